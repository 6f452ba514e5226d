select status from executions where execution_id = ?
