select
    s.id as schedule_id,
    s.name,
    u.email as owner,
    w.name as workflow_name,
    s.schedule_type,
    s.timezone,
    s.cron_expression,
    s.interval_days,
    s.anchor_date,
    s.time_of_day,
    s.next_run_at,
    s.is_active,
    s.last_run_at,
    s.last_run_status,
    coalesce(s.total_runs, 0) as total_runs,
    coalesce(s.successful_runs, 0) as successful_runs,
    coalesce(s.failed_runs, 0) as failed_runs,
    s.consecutive_failures,
    s.last_error,
    w.id is not null as has_workflow
from workflow_schedules as s
left join users as u on u.id = s.user_id
left join workflows as w on w.id = s.workflow_id
where (%(email)s::text is null or u.email = %(email)s::text)
    and (not %(active_only)s or s.is_active)
order by s.name, s.id
