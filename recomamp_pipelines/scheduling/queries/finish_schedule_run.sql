-- Only a RUNNING run finishes, once: a second report of the same end changes nothing.
update schedule_runs
set
    status = %(status)s,
    error_message = %(error_message)s,
    execution_id = coalesce(%(execution_id)s, execution_id),
    result_location = coalesce(%(result_location)s, result_location),
    completed_at = %(now)s,
    duration_seconds = greatest(0, round(extract(epoch from (%(now)s::timestamptz - started_at))))
where id = %(schedule_run_id)s and status = 'RUNNING'
returning schedule_id, started_at
