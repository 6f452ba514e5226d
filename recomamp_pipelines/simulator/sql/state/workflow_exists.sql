select 1 from workflows where instance_id = ? and workflow_id = ?
