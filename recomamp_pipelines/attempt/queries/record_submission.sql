update workflow_executions
set
    amc_execution_id = %(amc_execution_id)s,
    amc_status = %(amc_status)s,
    status = %(status)s,
    submitted_at = coalesce(submitted_at, now()),
    started_at = coalesce(started_at, now()),
    heartbeat_at = now()
where id = %(execution_id)s and status in ('PENDING', 'RUNNING')
