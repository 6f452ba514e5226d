-- Holds one week (one source and window) of a workflow's results table until
-- unlock_results_week: two loads of the same week never both insert after deleting, and the
-- Parquet file moved into place last is the one of the rows committed last. Session-level, so
-- that it outlives the commit until the file is moved, and goes with the connection if its
-- process dies.
select pg_advisory_lock(hashtextextended(%(week_key)s, 0))
