select status, started_at, window_start, window_end
from schedule_runs
where id = %(schedule_run_id)s
