select body, create_time, last_updated_time from workflows
where instance_id = ? and workflow_id = ?
