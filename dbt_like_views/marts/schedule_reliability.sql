-- One row per schedule: runs by outcome, on-time rate (started within 5 minutes of the tick),
-- lateness, the current and the longest streak of failed runs, skips.
with

schedules as (
    select * from analytics.stg_workflow_schedules
),

runs as (
    select * from analytics.stg_schedule_runs
),

-- Gaps and islands: runs of equal outcome in a row share (row number - row number by outcome).
streaks as (
    select
        runs.schedule_id,
        runs.is_failure,
        row_number() over (partition by runs.schedule_id order by runs.scheduled_at, runs.run_number)
        - row_number() over (
            partition by runs.schedule_id, runs.is_failure
            order by runs.scheduled_at, runs.run_number
        ) as island
    from runs
    where not runs.is_skipped
),

longest_streaks as (
    select
        islands.schedule_id,
        max(islands.length) as longest_failure_streak
    from (
        select streaks.schedule_id, streaks.island, count(*) as length
        from streaks
        where streaks.is_failure
        group by streaks.schedule_id, streaks.island
    ) as islands
    group by islands.schedule_id
),

run_summary as (
    select
        runs.schedule_id,
        count(*) as runs,
        count(*) filter (where runs.is_success) as succeeded,
        count(*) filter (where runs.is_failure) as failed,
        count(*) filter (where runs.is_skipped) as skipped,
        count(*) filter (where runs.lateness_seconds is not null) as timed_runs,
        count(*) filter (where runs.lateness_seconds <= 300) as on_time_runs,
        avg(runs.lateness_seconds) as lateness_seconds_mean,
        max(runs.lateness_seconds) as lateness_seconds_max,
        max(runs.scheduled_at) as last_scheduled_at
    from runs
    group by runs.schedule_id
),

final as (
    select
        schedules.schedule_id,
        schedules.schedule_name,
        schedules.user_id,
        schedules.workflow_id,
        schedules.is_active,
        coalesce(run_summary.runs, 0) as runs,
        coalesce(run_summary.succeeded, 0) as succeeded,
        coalesce(run_summary.failed, 0) as failed,
        coalesce(run_summary.skipped, 0) as skipped,
        analytics.safe_divide(run_summary.on_time_runs, run_summary.timed_runs) as on_time_rate,
        run_summary.lateness_seconds_mean,
        run_summary.lateness_seconds_max,
        schedules.consecutive_failures as current_failure_streak,
        coalesce(longest_streaks.longest_failure_streak, 0) as longest_failure_streak,
        run_summary.last_scheduled_at,
        schedules.last_run_status
    from schedules
    left join run_summary on run_summary.schedule_id = schedules.schedule_id
    left join longest_streaks on longest_streaks.schedule_id = schedules.schedule_id
)

select * from final
