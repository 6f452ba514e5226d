select instance_id, schedule_id, body from schedules
