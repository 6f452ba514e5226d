select id, amc_execution_id, sql_hash, created_at, status, amc_workflow_id
from workflow_executions
where collection_id = %(collection_id)s
    and week_start_date = %(week_start_date)s
    and status in ('PENDING', 'RUNNING')
