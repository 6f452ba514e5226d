-- One row per run of a schedule: when it was due, when it ran, its outcome and lateness.
with

runs as (
    select * from public.schedule_runs
),

final as (
    select
        runs.id as schedule_run_id,
        runs.schedule_id,
        runs.execution_id,
        runs.run_number,
        runs.status as run_status,
        runs.status = 'SUCCESS' as is_success,
        runs.status = 'FAILED' as is_failure,
        runs.status = 'SKIPPED' as is_skipped,
        runs.error_message,
        runs.duration_seconds,
        runs.lateness_seconds,
        runs.window_start,
        runs.window_end,
        runs.scheduled_at,
        runs.started_at,
        runs.completed_at,
        runs.created_at
    from runs
)

select * from final
