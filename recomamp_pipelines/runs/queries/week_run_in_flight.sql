select dagster_run_id
from workflow_executions
where collection_id = %(collection_id)s
    and week_start_date = %(week_start_date)s
    and status in ('PENDING', 'RUNNING')
