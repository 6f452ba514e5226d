select u.id as user_id, u.timezone, w.id as workflow_id, w.name as workflow_name
from users as u
left join workflows as w on w.user_id = u.id and (w.id = %(workflow_id)s or w.name = %(workflow)s)
where u.email = %(email)s
