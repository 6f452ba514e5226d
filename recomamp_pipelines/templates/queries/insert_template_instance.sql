insert into query_template_instances (template_id, user_id, instance_name, saved_parameters)
values (%(template_id)s, %(user_id)s, %(instance_name)s, %(saved_parameters)s)
returning id
