select instance_id from executions where execution_id = ?
