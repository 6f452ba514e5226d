update schedule_tick_claims as c
set batch_run_key = b.batch_run_key, run_key = b.run_key
from unnest(%(ids)s::uuid[], %(batch_run_keys)s::text[], %(run_keys)s::text[])
    as b (id, batch_run_key, run_key)
where c.id = b.id
