-- One row per AMC execution: where it came from, its outcome, AMC run and queue time, error type.
with

executions as (
    select * from public.workflow_executions
),

final as (
    select
        executions.id as execution_id,
        executions.amc_execution_id,
        executions.workflow_id,
        executions.user_id,
        executions.instance_id,
        executions.collection_id,
        executions.week_start_date,
        executions.schedule_run_id,
        case
            when executions.collection_id is not null then 'collection'
            when executions.schedule_run_id is not null then 'schedule'
            else 'ad hoc'
        end as source_kind,
        executions.status as execution_status,
        executions.status = 'SUCCESS' as is_success,
        executions.status in ('FAILED', 'CANCELLED', 'TIMEOUT') as is_failure,
        executions.amc_status,
        -- the pipeline's own failures have no AMC word for them
        coalesce(executions.error_type, case
            when executions.status in ('FAILED', 'TIMEOUT') then 'UNKNOWN'
        end) as error_type,
        executions.error_message,
        coalesce(executions.retry_count, 0) as retry_count,
        executions.result_rows,
        executions.result_size_bytes,
        -- waiting for one of the instance's AMC slots, from the intent row to the submission
        extract(epoch from executions.submitted_at - executions.created_at)::double precision
            as queue_seconds,
        -- AMC's own time, from the submission to its verdict
        coalesce(
            executions.execution_duration::double precision,
            extract(epoch from executions.completed_at - executions.submitted_at)::double precision
        ) as amc_run_seconds,
        executions.dagster_run_id,
        executions.created_at,
        executions.submitted_at,
        executions.completed_at
    from executions
)

select * from final
