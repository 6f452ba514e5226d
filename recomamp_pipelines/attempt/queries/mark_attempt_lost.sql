update workflow_executions
set
    status = 'FAILED',
    error_type = 'LOST',
    error_message = %(error_message)s,
    completed_at = now()
where id = %(execution_id)s and status in ('PENDING', 'RUNNING')
returning id
