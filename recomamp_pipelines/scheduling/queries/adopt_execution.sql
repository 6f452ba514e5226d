-- A run resuming an execution says so at once, before its first poll of AMC.
update workflow_executions
set dagster_run_id = %(dagster_run_id)s, heartbeat_at = now()
where id = %(execution_id)s and status in ('PENDING', 'RUNNING')
