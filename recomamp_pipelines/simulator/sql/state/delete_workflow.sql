delete from workflows where instance_id = ? and workflow_id = ?
