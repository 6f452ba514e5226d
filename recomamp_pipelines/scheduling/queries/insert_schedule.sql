insert into workflow_schedules (
    name, description, workflow_id, user_id, schedule_type, cron_expression, timezone,
    interval_days, anchor_date, time_of_day, day_of_week, day_of_month, lookback_days,
    parameters, auto_pause_on_failure, failure_threshold, next_run_at, is_active
)
values (
    %(name)s, %(description)s, %(workflow_id)s, %(user_id)s, %(schedule_type)s,
    %(cron_expression)s, %(timezone)s, %(interval_days)s, %(anchor_date)s, %(time_of_day)s,
    %(day_of_week)s, %(day_of_month)s, %(lookback_days)s, %(parameters)s,
    %(auto_pause_on_failure)s, %(failure_threshold)s, %(next_run_at)s, true
)
returning id
