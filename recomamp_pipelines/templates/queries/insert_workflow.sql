insert into workflows (
    name,
    description,
    sql_query,
    user_id,
    instance_id,
    template_id,
    parameters,
    tags
)
values (
    %(name)s,
    %(description)s,
    %(sql_query)s,
    %(user_id)s,
    %(instance_id)s,
    %(template_id)s,
    %(parameters)s,
    %(tags)s
)
returning id
