-- Held while a process opens Dagster's instance: on a fresh home, the first processes to open it
-- create Dagster's storage tables, and without the lock two creating them at once collide.
select pg_advisory_lock(hashtextextended('recomamp-dagster-storage', 0))
