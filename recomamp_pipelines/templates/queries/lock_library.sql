-- Serialises concurrent syncs (`db upgrade` and `make demo` may run at once); released at commit.
select pg_advisory_xact_lock(%(lock_key)s)
