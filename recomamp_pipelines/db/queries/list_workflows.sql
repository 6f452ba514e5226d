select
    w.id as workflow_id,
    w.name,
    u.email as owner,
    i.instance_id as amc_instance_id,
    t.name as template_name,
    w.created_at
from workflows as w
inner join users as u on u.id = w.user_id
inner join amc_instances as i on i.id = w.instance_id
left join query_templates as t on t.id = w.template_id
order by u.email, w.name
