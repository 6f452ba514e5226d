select workflow_id from workflows where instance_id = ? order by workflow_id
