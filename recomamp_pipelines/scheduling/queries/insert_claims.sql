insert into schedule_tick_claims (id, schedule_id, scheduled_at, missed_ticks, claimed_at)
select claim.id, claim.schedule_id, claim.scheduled_at, claim.missed_ticks, %(now)s
from unnest(
    %(ids)s::uuid[], %(schedule_ids)s::uuid[], %(scheduled_at)s::timestamptz[],
    %(missed_ticks)s::integer[]
) as claim (id, schedule_id, scheduled_at, missed_ticks)
on conflict (schedule_id, scheduled_at) do nothing
returning id
