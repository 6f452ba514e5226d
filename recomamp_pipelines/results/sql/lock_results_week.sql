-- Serialises loads of one week (one source and window) of a workflow's results table, so that
-- two loads of the same week never both insert after deleting.
select pg_advisory_xact_lock(hashtextextended(%(week_key)s, 0))
