-- Collection weeks whose attempt was ended ABANDONED (its process gone, its slot reclaimed by a
-- waiter) while AMC kept the execution, with nobody at work on the week since `before`: AMC's
-- result is still to be collected. Same columns as stale_executions.
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
    a.account_id as amc_account_id
from report_data_weeks as w
join workflow_executions as e on e.id = w.execution_id
join report_data_collections as c on c.id = w.collection_id
left join users as u on u.id = e.user_id
left join amc_instances as i on i.id = e.instance_id
left join amc_accounts as a on a.id = i.account_id
where w.status = 'FAILED'
    and e.status = 'FAILED'
    and e.error_type = 'ABANDONED'
    and e.amc_execution_id is not null
    and coalesce(e.completed_at, e.heartbeat_at, e.created_at) < %(before)s
    and not exists (
        select 1
        from workflow_executions as live
        where live.collection_id = w.collection_id
            and live.week_start_date = w.week_start_date
            and live.status in ('PENDING', 'RUNNING')
    )
order by coalesce(e.completed_at, e.heartbeat_at, e.created_at)
limit %(limit)s
