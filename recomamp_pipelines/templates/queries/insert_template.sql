insert into query_templates (
    template_key,
    name,
    description,
    category,
    sql_template,
    sql_checksum,
    version,
    parameters,
    parameters_schema,
    report_config,
    tags,
    difficulty_level,
    estimated_runtime,
    is_official,
    is_public
)
values (
    %(template_key)s,
    %(name)s,
    %(description)s,
    %(category)s,
    %(sql_template)s,
    %(sql_checksum)s,
    1,
    %(parameters)s,
    %(parameters_schema)s,
    %(report_config)s,
    %(tags)s,
    %(difficulty_level)s,
    %(estimated_runtime)s,
    %(is_official)s,
    %(is_public)s
)
returning id
