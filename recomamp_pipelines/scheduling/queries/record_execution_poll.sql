update workflow_executions
set
    amc_status = %(amc_status)s,
    status = %(status)s,
    heartbeat_at = now(),
    dagster_run_id = %(dagster_run_id)s
where id = %(execution_id)s and status in ('PENDING', 'RUNNING')
