insert into schedule_runs (
    schedule_id, status, run_number, scheduled_at, started_at, dagster_run_id, lateness_seconds,
    window_start, window_end, error_message, completed_at, duration_seconds
)
select
    %(schedule_id)s, %(status)s, coalesce(max(run_number), 0) + 1, %(scheduled_at)s,
    %(started_at)s, %(dagster_run_id)s,
    extract(epoch from (%(started_at)s::timestamptz - %(scheduled_at)s::timestamptz)),
    %(window_start)s, %(window_end)s, %(error_message)s,
    case when %(status)s = 'RUNNING' then null else %(started_at)s::timestamptz end,
    case when %(status)s = 'RUNNING' then null else 0 end
from schedule_runs
where schedule_id = %(schedule_id)s
returning id
