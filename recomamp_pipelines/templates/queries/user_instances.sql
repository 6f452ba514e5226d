select id, instance_id, name
from amc_instances
where user_id = %(user_id)s
order by instance_id
