-- The unfinished AMC execution of a schedule run, if an earlier process left one.
select id, amc_execution_id, sql_hash, created_at
from workflow_executions
where schedule_run_id = %(schedule_run_id)s and status in ('PENDING', 'RUNNING')
order by created_at desc
limit 1
