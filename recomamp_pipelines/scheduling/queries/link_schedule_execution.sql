update schedule_runs set execution_id = %(execution_id)s where id = %(schedule_run_id)s
