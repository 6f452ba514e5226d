update executions set status = ?, record = ? where execution_id = ?
