update schedule_tick_claims set status = %(status)s where schedule_run_id = %(schedule_run_id)s
