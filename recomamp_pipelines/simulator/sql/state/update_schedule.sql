update schedules set body = ? where instance_id = ? and schedule_id = ?
