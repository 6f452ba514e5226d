-- An attempt ends once: a second report of its end changes nothing. Its AMC slot is released
-- by the trigger on workflow_executions.status.
update workflow_executions
set
    status = %(status)s,
    amc_status = coalesce(%(amc_status)s, amc_status),
    error_type = %(error_type)s,
    error_message = %(error_message)s,
    result_rows = %(result_rows)s,
    result_size_bytes = %(result_size_bytes)s,
    result_data = %(result_data)s,
    result_location = %(result_location)s,
    execution_duration = %(execution_duration)s,
    completed_at = now(),
    heartbeat_at = now()
where id = %(execution_id)s and status in ('PENDING', 'RUNNING')
returning id
