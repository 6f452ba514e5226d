update query_templates
set
    name = %(name)s,
    description = %(description)s,
    category = %(category)s,
    sql_template = %(sql_template)s,
    sql_checksum = %(sql_checksum)s,
    version = %(version)s,
    parameters = %(parameters)s,
    parameters_schema = %(parameters_schema)s,
    report_config = %(report_config)s,
    tags = %(tags)s,
    difficulty_level = %(difficulty_level)s,
    estimated_runtime = %(estimated_runtime)s,
    is_official = %(is_official)s,
    is_public = %(is_public)s,
    updated_at = now()
where id = %(template_id)s
