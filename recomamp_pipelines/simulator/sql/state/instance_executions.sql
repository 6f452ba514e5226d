select record from executions where instance_id = ? order by seq
