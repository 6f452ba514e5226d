update query_templates
set usage_count = coalesce(usage_count, 0) + 1, last_used_at = now()
where id = %(template_id)s
