-- Whether the database can take migrations: a standby, or a session that starts read-only.
select
    pg_is_in_recovery() as is_standby,
    current_setting('transaction_read_only') = 'on' as is_read_only
