-- Claims no run has taken yet, by the run meant to take them.
select batch_run_key, id, attempt, schedule_id, scheduled_at, claimed_at
from schedule_tick_claims
where status = 'CLAIMED'
order by batch_run_key, scheduled_at, id
