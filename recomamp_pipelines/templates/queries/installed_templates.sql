select
    id,
    template_key,
    name,
    description,
    category,
    version,
    sql_template,
    report_config,
    is_official,
    usage_count
from query_templates
order by is_official desc, category, name
