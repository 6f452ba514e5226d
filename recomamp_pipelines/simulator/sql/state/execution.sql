select record from executions where instance_id = ? and execution_id = ?
