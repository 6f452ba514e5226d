-- Due schedules, locked for this claim transaction; rows another evaluation holds are skipped.
-- Rows already marked invalid come last, so that they never crowd out valid ones.
select
    s.id,
    s.name,
    s.schedule_type,
    s.timezone,
    s.cron_expression,
    s.interval_days,
    s.anchor_date,
    s.time_of_day,
    s.next_run_at,
    s.last_error,
    w.id is not null as has_workflow,
    w.instance_id
from workflow_schedules as s
left join workflows as w on w.id = s.workflow_id
where s.is_active and s.next_run_at <= %(now)s
order by s.last_error is not null, s.next_run_at
limit %(limit)s
for update of s skip locked
