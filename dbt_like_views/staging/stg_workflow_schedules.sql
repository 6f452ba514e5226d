-- One row per user schedule: its cadence, state and run counters.
with

schedules as (
    select * from public.workflow_schedules
),

final as (
    select
        schedules.id as schedule_id,
        schedules.name as schedule_name,
        schedules.user_id,
        schedules.workflow_id,
        schedules.schedule_type,
        schedules.cron_expression,
        schedules.interval_days,
        schedules.timezone,
        coalesce(schedules.is_active, false) as is_active,
        schedules.next_run_at,
        schedules.last_run_at,
        schedules.last_run_status,
        coalesce(schedules.total_runs, 0) as total_runs,
        coalesce(schedules.successful_runs, 0) as successful_runs,
        coalesce(schedules.failed_runs, 0) as failed_runs,
        schedules.consecutive_failures,
        schedules.auto_pause_on_failure,
        schedules.failure_threshold,
        schedules.last_error,
        schedules.created_at,
        schedules.paused_at
    from schedules
)

select * from final
