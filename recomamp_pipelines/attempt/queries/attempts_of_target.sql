-- The attempts at one collection week or one schedule run that a new attempt may have to adopt,
-- reopen or close: every unfinished one, and the newest one, newest first.
select id, amc_execution_id, sql_hash, created_at, status, error_type
from workflow_executions
where (
        (collection_id = %(collection_id)s and week_start_date = %(week_start_date)s)
        or schedule_run_id = %(schedule_run_id)s
    )
    and (
        status in ('PENDING', 'RUNNING')
        or created_at = (
            select max(newest.created_at)
            from workflow_executions as newest
            where (
                    (newest.collection_id = %(collection_id)s
                        and newest.week_start_date = %(week_start_date)s)
                    or newest.schedule_run_id = %(schedule_run_id)s
                )
        )
    )
order by created_at desc, id
