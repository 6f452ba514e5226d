-- Held by the connection that works on an attempt, for as long as it works on it: a slot whose
-- attempt no session holds has lost its process (see reclaim_gone_slot_holders).
select pg_try_advisory_lock(hashtextextended('recomamp-attempt:' || %(execution_id)s::text, 0))
    as is_locked
