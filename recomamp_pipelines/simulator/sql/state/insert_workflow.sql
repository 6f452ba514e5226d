insert into workflows (instance_id, workflow_id, body, create_time, last_updated_time)
values (?, ?, ?, ?, ?)
