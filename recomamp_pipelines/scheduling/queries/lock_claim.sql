select schedule_id, scheduled_at, attempt, status, dagster_run_id, schedule_run_id
from schedule_tick_claims
where id = %(claim_id)s
for update
