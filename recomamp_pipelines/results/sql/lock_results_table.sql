-- Serialises changes to a workflow's results table: its creation and its new columns.
select pg_advisory_xact_lock(hashtextextended(%(table_name)s, 0))
