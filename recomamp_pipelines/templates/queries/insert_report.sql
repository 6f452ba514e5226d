insert into query_template_reports (
    template_id,
    report_name,
    dashboard_config,
    field_mappings,
    default_filters,
    widget_order
)
values (
    %(template_id)s,
    %(report_name)s,
    %(dashboard_config)s,
    %(field_mappings)s,
    %(default_filters)s,
    %(widget_order)s
)
