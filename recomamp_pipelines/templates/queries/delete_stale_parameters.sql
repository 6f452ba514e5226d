delete from query_template_parameters
where
    template_id = %(template_id)s
    and parameter_name <> all(%(parameter_names)s)
