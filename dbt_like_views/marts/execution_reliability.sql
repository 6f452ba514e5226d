-- One row per AMC instance and week (weeks of the executions' creation and of the reuses,
-- starting on Monday): submissions, outcomes, success rate, AMC run time p50/p95, slot queue
-- time, error types, retries, and the collection weeks reused without an AMC call (their
-- published result had the same query and window).
with

executions as (
    select * from analytics.stg_workflow_executions
),

reuses as (
    select * from analytics.stg_collection_week_reuses
),

collection_weeks as (
    select * from analytics.stg_collection_weeks
),

collections as (
    select * from analytics.stg_collections
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

weekly_reuses as (
    select
        reuses.instance_id,
        collections.user_id,
        date_trunc('week', reuses.reused_at)::date as week_start_date,
        count(distinct reuses.collection_week_id) as reused_weeks,
        count(*) as week_reuses
    from reuses
    inner join collection_weeks
        on collection_weeks.collection_week_id = reuses.collection_week_id
    inner join collections on collections.collection_id = collection_weeks.collection_id
    group by 1, 2, 3
),

instance_weeks as (
    select weekly.instance_id, weekly.user_id, weekly.week_start_date from weekly
    union
    select weekly_reuses.instance_id, weekly_reuses.user_id, weekly_reuses.week_start_date
    from weekly_reuses
),

final as (
    select
        instance_weeks.instance_id,
        instances.instance_id as amc_instance_id,
        instance_weeks.user_id,
        instance_weeks.week_start_date,
        coalesce(weekly.executions, 0) as executions,
        coalesce(weekly.submissions, 0) as submissions,
        coalesce(weekly.succeeded, 0) as succeeded,
        coalesce(weekly.failed, 0) as failed,
        coalesce(weekly.in_flight, 0) as in_flight,
        analytics.safe_divide(weekly.succeeded, weekly.succeeded + weekly.failed)
            as success_rate,
        weekly.amc_run_seconds_p50,
        weekly.amc_run_seconds_p95,
        weekly.queue_seconds_mean,
        weekly.queue_seconds_p95,
        coalesce(error_types.error_types, '{}'::jsonb) as error_types,
        coalesce(weekly.retries, 0) as retries,
        coalesce(weekly_reuses.reused_weeks, 0) as reused_weeks,
        coalesce(weekly_reuses.week_reuses, 0) as week_reuses
    from instance_weeks
    left join weekly
        on
            weekly.instance_id is not distinct from instance_weeks.instance_id
            and weekly.user_id is not distinct from instance_weeks.user_id
            and weekly.week_start_date = instance_weeks.week_start_date
    left join weekly_reuses
        on
            weekly_reuses.instance_id is not distinct from instance_weeks.instance_id
            and weekly_reuses.user_id is not distinct from instance_weeks.user_id
            and weekly_reuses.week_start_date = instance_weeks.week_start_date
    left join instances on instances.id = instance_weeks.instance_id
    left join error_types
        on
            error_types.instance_id is not distinct from instance_weeks.instance_id
            and error_types.week_start_date = instance_weeks.week_start_date
)

select * from final
