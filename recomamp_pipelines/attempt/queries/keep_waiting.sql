-- A waiter keeps its place in the queue for AMC slots while its heartbeat is fresh.
update workflow_executions set heartbeat_at = now() where id = %(execution_id)s
