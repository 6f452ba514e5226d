-- The declared output columns of a user's workflow: those of the template it was made from.
select
    workflows.id,
    workflows.name,
    query_templates.report_config -> 'output_columns' as output_columns
from workflows
left join query_templates on workflows.template_id = query_templates.id
where workflows.id = %(workflow_id)s and workflows.user_id = %(user_id)s
