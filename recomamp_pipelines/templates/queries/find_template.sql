-- One template by its key, else by its name (case-insensitive); official ones first.
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
where template_key = %(name)s or lower(name) = lower(%(name)s)
order by template_key = %(name)s desc, is_official desc, created_at
limit 2
