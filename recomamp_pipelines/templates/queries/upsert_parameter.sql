insert into query_template_parameters (
    template_id,
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
)
values (
    %(template_id)s,
    %(parameter_name)s,
    %(parameter_type)s,
    %(display_name)s,
    %(description)s,
    %(display_order)s,
    %(group_name)s,
    %(required)s,
    %(default_value)s,
    %(validation_rules)s,
    %(ui_config)s
)
on conflict (template_id, parameter_name) do update
set
    parameter_type = excluded.parameter_type,
    display_name = excluded.display_name,
    description = excluded.description,
    display_order = excluded.display_order,
    group_name = excluded.group_name,
    required = excluded.required,
    default_value = excluded.default_value,
    validation_rules = excluded.validation_rules,
    ui_config = excluded.ui_config,
    updated_at = now()
