delete from query_template_reports
where id = any(%(report_ids)s)
