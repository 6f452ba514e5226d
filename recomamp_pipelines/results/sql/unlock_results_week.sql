select pg_advisory_unlock(hashtextextended(%(week_key)s, 0))
