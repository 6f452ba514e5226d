-- The schedule's counters, in the same transaction as the run's end. Old values on the right:
-- consecutive_failures + 1 is the count including this failure.
update workflow_schedules
set
    total_runs = coalesce(total_runs, 0) + 1,
    successful_runs = coalesce(successful_runs, 0) + (%(status)s = 'SUCCESS')::integer,
    failed_runs = coalesce(failed_runs, 0) + (%(status)s = 'FAILED')::integer,
    last_run_at = %(started_at)s,
    last_run_status = %(status)s,
    consecutive_failures = case when %(status)s = 'FAILED' then consecutive_failures + 1 else 0 end,
    is_active = case
        when %(status)s = 'FAILED' and auto_pause_on_failure
            and consecutive_failures + 1 >= coalesce(failure_threshold, %(default_threshold)s)
            then false
        else is_active
    end,
    paused_at = case
        when %(status)s = 'FAILED' and auto_pause_on_failure and is_active
            and consecutive_failures + 1 >= coalesce(failure_threshold, %(default_threshold)s)
            then %(now)s
        else paused_at
    end
where id = %(schedule_id)s
returning
    %(status)s = 'FAILED' and auto_pause_on_failure
    and consecutive_failures >= coalesce(failure_threshold, %(default_threshold)s)
