select instance_id, status, record from executions
