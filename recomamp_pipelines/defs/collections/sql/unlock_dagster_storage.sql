select pg_advisory_unlock(hashtextextended('recomamp-dagster-storage', 0))
