insert into executions
    (execution_id, instance_id, seq, workflow_id, status, create_time, record)
values (?, ?, ?, ?, ?, ?, ?)
