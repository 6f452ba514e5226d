-- Committed before AMC is asked for anything: a process that dies after submitting leaves a row
-- that the next attempt at the same collection week or schedule run adopts instead of
-- submitting again.
insert into workflow_executions (
    workflow_id, user_id, instance_id, collection_id, week_start_date, schedule_run_id, status,
    parameters, sql_hash, amc_workflow_id, time_window_start, time_window_end,
    time_window_time_zone, parameter_values, dagster_run_id, heartbeat_at, retry_count
)
values (
    %(workflow_id)s, %(user_id)s, %(instance_id)s, %(collection_id)s, %(week_start_date)s,
    %(schedule_run_id)s, 'PENDING', %(parameter_values)s, %(sql_hash)s, %(amc_workflow_id)s,
    %(time_window_start)s, %(time_window_end)s, %(time_window_time_zone)s,
    %(parameter_values)s, %(dagster_run_id)s, now(), 0
)
returning id, amc_execution_id, sql_hash, created_at, status, error_type
