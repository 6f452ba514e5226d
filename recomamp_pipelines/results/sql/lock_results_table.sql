-- Serialises publishes of one workflow: table creation, new columns and week replacement.
select pg_advisory_xact_lock(hashtextextended(%(table_name)s, 0))
