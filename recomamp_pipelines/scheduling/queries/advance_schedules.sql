update workflow_schedules as s
set next_run_at = v.next_run_at, last_error = null
from unnest(%(ids)s::uuid[], %(next_run_at)s::timestamptz[]) as v (id, next_run_at)
where s.id = v.id
