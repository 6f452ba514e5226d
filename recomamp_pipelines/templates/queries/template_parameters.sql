select
    parameter_name,
    parameter_type,
    display_name,
    description,
    display_order,
    group_name,
    required,
    default_value,
    validation_rules,
    ui_config
from query_template_parameters
where template_id = %(template_id)s
order by display_order, parameter_name
