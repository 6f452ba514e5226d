select
    i.id as instance_row_id,
    i.instance_id as amc_instance_id,
    i.name,
    u.email as owner,
    a.account_id as amc_account_id,
    i.health_status,
    i.is_active
from amc_instances as i
inner join users as u on u.id = i.user_id
inner join amc_accounts as a on a.id = i.account_id
order by u.email, i.instance_id
