-- AMC executions already recorded by an attempt: never taken for another attempt's.
select amc_execution_id
from workflow_executions
where amc_execution_id = any(%(amc_execution_ids)s)
