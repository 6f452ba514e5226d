update query_template_reports
set
    report_name = %(report_name)s,
    dashboard_config = %(dashboard_config)s,
    field_mappings = %(field_mappings)s,
    default_filters = %(default_filters)s,
    widget_order = %(widget_order)s,
    updated_at = now()
where id = %(report_id)s
