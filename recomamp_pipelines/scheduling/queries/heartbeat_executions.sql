update workflow_executions
set heartbeat_at = now()
where id = any(%(execution_ids)s) and status in ('PENDING', 'RUNNING')
