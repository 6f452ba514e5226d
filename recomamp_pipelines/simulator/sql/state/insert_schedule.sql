insert into schedules (instance_id, schedule_id, body) values (?, ?, ?)
