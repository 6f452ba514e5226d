-- A run taking over an attempt says so at once, before its first call to AMC. An attempt that
-- ended without AMC's verdict (its download failed, its process was gone, AMC could not be
-- reached) is opened again: AMC's execution id is kept, so it is collected, not submitted again.
update workflow_executions
set
    status = case when status in ('PENDING', 'RUNNING') then status else 'RUNNING' end,
    error_type = case when status in ('PENDING', 'RUNNING') then error_type end,
    error_message = case when status in ('PENDING', 'RUNNING') then error_message end,
    completed_at = case when status in ('PENDING', 'RUNNING') then completed_at end,
    dagster_run_id = %(dagster_run_id)s,
    heartbeat_at = now()
where id = %(execution_id)s
    and (
        status in ('PENDING', 'RUNNING')
        or (status = 'FAILED' and error_type = any(%(reopenable)s) and amc_execution_id is not null)
    )
returning id, amc_execution_id, sql_hash, created_at, status, error_type
