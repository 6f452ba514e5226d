select pg_advisory_unlock(hashtextextended(%(key)s, 0)) as was_locked
