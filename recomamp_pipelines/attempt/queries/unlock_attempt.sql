select pg_advisory_unlock(hashtextextended('recomamp-attempt:' || %(execution_id)s::text, 0))
    as was_locked
