update workflow_schedules
set
    is_active = %(is_active)s,
    paused_at = case when %(is_active)s then null else %(now)s end,
    consecutive_failures = case when %(is_active)s then 0 else consecutive_failures end,
    next_run_at = coalesce(%(next_run_at)s, next_run_at),
    last_error = case when %(is_active)s then null else last_error end
where id = %(schedule_id)s
