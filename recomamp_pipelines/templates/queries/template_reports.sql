select
    id,
    report_name,
    dashboard_config,
    field_mappings,
    default_filters,
    widget_order
from query_template_reports
where template_id = %(template_id)s
order by created_at, id
