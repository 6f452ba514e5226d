-- Everything a schedule's run reads, with the schedule row locked: a pause committed before
-- this point is seen, and a pause after it waits for the run to be recorded.
select
    s.id as schedule_id,
    s.name as schedule_name,
    s.is_active,
    s.schedule_type,
    s.timezone,
    s.cron_expression,
    s.interval_days,
    s.anchor_date,
    s.time_of_day,
    s.lookback_days,
    s.parameters as schedule_parameters,
    s.user_id,
    w.id as workflow_id,
    w.name as workflow_name,
    w.sql_query,
    w.parameters as workflow_parameters,
    w.template_id,
    u.email as user_email,
    u.encrypted_refresh_token,
    i.id as instance_row_id,
    i.instance_id as amc_instance_id,
    a.account_id as amc_account_id
from workflow_schedules as s
left join workflows as w on w.id = s.workflow_id
left join users as u on u.id = s.user_id
left join amc_instances as i on i.id = w.instance_id
left join amc_accounts as a on a.id = i.account_id
where s.id = %(schedule_id)s
for update of s
