update workflow_executions
set
    amc_status = %(amc_status)s,
    status = %(status)s,
    heartbeat_at = now(),
    dagster_run_id = coalesce(%(dagster_run_id)s, dagster_run_id)
where id = %(execution_id)s and status in ('PENDING', 'RUNNING')
