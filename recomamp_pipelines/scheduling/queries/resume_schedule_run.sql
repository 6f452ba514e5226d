update schedule_runs set dagster_run_id = %(dagster_run_id)s where id = %(schedule_run_id)s
