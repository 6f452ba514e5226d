-- The workflows made from the official template with this key.
select workflows.id as workflow_id
from public.workflows as workflows
inner join public.query_templates as templates on templates.id = workflows.template_id
where templates.template_key = %(template_key)s
order by workflows.id
