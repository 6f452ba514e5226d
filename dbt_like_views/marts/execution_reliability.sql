-- One row per AMC instance and week (weeks of the executions' creation, starting on Monday):
-- submissions, outcomes, success rate, AMC run time p50/p95, slot queue time, error types and
-- retries.
with

executions as (
    select * from analytics.stg_workflow_executions
),

instances as (
    select * from public.amc_instances
),

weekly as (
    select
        executions.instance_id,
        executions.user_id,
        date_trunc('week', executions.created_at)::date as week_start_date,
        count(*) as executions,
        count(*) filter (where executions.submitted_at is not null) as submissions,
        count(*) filter (where executions.is_success) as succeeded,
        count(*) filter (where executions.is_failure) as failed,
        count(*) filter (where executions.execution_status in ('PENDING', 'RUNNING'))
            as in_flight,
        percentile_cont(0.5) within group (order by executions.amc_run_seconds)
            filter (where executions.is_success) as amc_run_seconds_p50,
        percentile_cont(0.95) within group (order by executions.amc_run_seconds)
            filter (where executions.is_success) as amc_run_seconds_p95,
        avg(executions.queue_seconds) as queue_seconds_mean,
        percentile_cont(0.95) within group (order by executions.queue_seconds)
            as queue_seconds_p95,
        sum(executions.retry_count) as retries
    from executions
    group by 1, 2, 3
),

error_types as (
    select
        counted.instance_id,
        counted.week_start_date,
        jsonb_object_agg(counted.error_type, counted.failures order by counted.error_type)
            as error_types
    from (
        select
            executions.instance_id,
            date_trunc('week', executions.created_at)::date as week_start_date,
            executions.error_type,
            count(*) as failures
        from executions
        where executions.is_failure
        group by 1, 2, 3
    ) as counted
    group by counted.instance_id, counted.week_start_date
),

final as (
    select
        weekly.instance_id,
        instances.instance_id as amc_instance_id,
        weekly.user_id,
        weekly.week_start_date,
        weekly.executions,
        weekly.submissions,
        weekly.succeeded,
        weekly.failed,
        weekly.in_flight,
        analytics.safe_divide(weekly.succeeded, weekly.succeeded + weekly.failed)
            as success_rate,
        weekly.amc_run_seconds_p50,
        weekly.amc_run_seconds_p95,
        weekly.queue_seconds_mean,
        weekly.queue_seconds_p95,
        coalesce(error_types.error_types, '{}'::jsonb) as error_types,
        weekly.retries
    from weekly
    left join instances on instances.id = weekly.instance_id
    left join error_types
        on
            error_types.instance_id is not distinct from weekly.instance_id
            and error_types.week_start_date = weekly.week_start_date
)

select * from final
