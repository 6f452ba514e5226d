update schedule_tick_claims
set status = %(status)s, dagster_run_id = %(dagster_run_id)s, schedule_run_id = %(schedule_run_id)s
where id = %(claim_id)s
