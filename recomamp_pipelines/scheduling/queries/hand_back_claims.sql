-- A claim whose run never served it goes back with its attempt raised: the new run_key is new
-- to Dagster, and a late run of the old attempt can no longer take it.
update schedule_tick_claims as c
set
    attempt = c.attempt + 1,
    status = 'CLAIMED',
    dagster_run_id = null,
    batch_run_key = b.batch_run_key,
    run_key = b.run_key
from unnest(
    %(ids)s::uuid[], %(attempts)s::integer[], %(batch_run_keys)s::text[], %(run_keys)s::text[]
) as b (id, attempt, batch_run_key, run_key)
where c.id = b.id
    and c.attempt = b.attempt - 1
    and c.status = any(%(from_statuses)s)
    and (%(from_run_id)s::text is null or c.dagster_run_id = %(from_run_id)s::text)
returning c.id
