select body from schedules where instance_id = ? order by schedule_id
