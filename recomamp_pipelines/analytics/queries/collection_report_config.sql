-- The report configuration of the template the collection's workflow was made from.
select
    reports.report_name,
    reports.dashboard_config,
    reports.widget_order
from public.report_data_collections as collections
inner join public.workflows as workflows on workflows.id = collections.workflow_id
inner join public.query_template_reports as reports on reports.template_id = workflows.template_id
where collections.id = %(collection_id)s
order by reports.created_at
limit 1
