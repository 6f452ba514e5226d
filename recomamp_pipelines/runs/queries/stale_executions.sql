-- Attempts nobody has been heard of since `before`, oldest first: unfinished ones (PENDING or
-- RUNNING), and ABANDONED ones (their process gone, their slot reclaimed by a waiter) whose
-- collection week failed with them while AMC kept the execution, uncollected, and no attempt is
-- at work on that week.
select
    e.id as execution_id,
    e.amc_execution_id,
    e.dagster_run_id,
    coalesce(e.completed_at, e.heartbeat_at, e.created_at) as last_heard_at,
    e.collection_id,
    c.partition_key,
    e.week_start_date,
    e.schedule_run_id,
    e.user_id,
    u.email as user_email,
    u.encrypted_refresh_token,
    i.instance_id as amc_instance_id,
    a.account_id as amc_account_id,
    e.status = 'FAILED' as abandoned
from workflow_executions as e
left join report_data_collections as c on c.id = e.collection_id
left join users as u on u.id = e.user_id
left join amc_instances as i on i.id = e.instance_id
left join amc_accounts as a on a.id = i.account_id
where coalesce(e.completed_at, e.heartbeat_at, e.created_at) < %(before)s
    and (
        e.status in ('PENDING', 'RUNNING')
        or (
            e.status = 'FAILED'
            and e.error_type = 'ABANDONED'
            and e.amc_execution_id is not null
            and exists (
                select 1
                from report_data_weeks as w
                where w.execution_id = e.id and w.status = 'FAILED'
            )
            and not exists (
                select 1
                from workflow_executions as live
                where live.collection_id = e.collection_id
                    and live.week_start_date = e.week_start_date
                    and live.status in ('PENDING', 'RUNNING')
            )
        )
    )
order by coalesce(e.completed_at, e.heartbeat_at, e.created_at)
limit %(limit)s
