update workflow_schedules set last_run_status = 'SKIPPED' where id = %(schedule_id)s
