select
    id,
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
from query_templates
where template_key = %(template_key)s
for update
