-- Only rows whose error is new are returned, so that each is reported once.
update workflow_schedules as s
set last_error = v.error
from unnest(%(ids)s::uuid[], %(errors)s::text[]) as v (id, error)
where s.id = v.id and s.last_error is distinct from v.error
returning s.id
