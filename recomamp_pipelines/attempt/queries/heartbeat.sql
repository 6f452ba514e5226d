-- Attempts at work (waiting for a slot, polling, downloading, loading) are marked alive.
update workflow_executions
set heartbeat_at = now()
where id = any(%(execution_ids)s) and status in ('PENDING', 'RUNNING')
