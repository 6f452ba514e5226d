-- Unfinished executions whose process has not been heard of since `before`, oldest first.
select
    e.id as execution_id,
    e.amc_execution_id,
    e.dagster_run_id,
    coalesce(e.heartbeat_at, e.created_at) as last_heard_at,
    e.collection_id,
    c.partition_key,
    e.week_start_date,
    e.schedule_run_id,
    e.user_id,
    u.email as user_email,
    u.encrypted_refresh_token,
    i.instance_id as amc_instance_id,
    a.account_id as amc_account_id
from workflow_executions as e
left join report_data_collections as c on c.id = e.collection_id
left join users as u on u.id = e.user_id
left join amc_instances as i on i.id = e.instance_id
left join amc_accounts as a on a.id = i.account_id
where e.status in ('PENDING', 'RUNNING')
    and coalesce(e.heartbeat_at, e.created_at) < %(before)s
order by coalesce(e.heartbeat_at, e.created_at)
limit %(limit)s
