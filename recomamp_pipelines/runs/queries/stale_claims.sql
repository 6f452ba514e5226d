-- Claims a run took but left without an unfinished execution (it died before submitting, or
-- between AMC's answer and recording the end), not touched since `before`.
select c.id, c.attempt, c.dagster_run_id, c.schedule_run_id
from schedule_tick_claims as c
where c.status = 'RUNNING'
    and c.updated_at < %(before)s
    and not exists (
        select 1
        from workflow_executions as e
        where e.schedule_run_id = c.schedule_run_id and e.status in ('PENDING', 'RUNNING')
    )
order by c.updated_at
limit %(limit)s
