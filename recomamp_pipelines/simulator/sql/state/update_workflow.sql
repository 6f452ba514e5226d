update workflows set body = ?, last_updated_time = ?
where instance_id = ? and workflow_id = ?
