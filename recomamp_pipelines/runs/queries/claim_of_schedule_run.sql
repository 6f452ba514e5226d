select id, attempt, status, dagster_run_id
from schedule_tick_claims
where schedule_run_id = %(schedule_run_id)s
