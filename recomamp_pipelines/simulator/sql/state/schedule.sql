select body from schedules where instance_id = ? and schedule_id = ?
