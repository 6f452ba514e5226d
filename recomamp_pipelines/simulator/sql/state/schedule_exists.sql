select 1 from schedules where instance_id = ? and schedule_id = ?
