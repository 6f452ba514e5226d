select status, error_type, amc_execution_id
from workflow_executions
where id = %(execution_id)s
