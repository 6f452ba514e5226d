select
    id, name, is_active, schedule_type, timezone, cron_expression, interval_days, anchor_date,
    time_of_day
from workflow_schedules
where id = %(schedule_id)s
for update
