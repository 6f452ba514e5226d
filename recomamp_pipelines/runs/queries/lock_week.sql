-- Taken by the connection that runs a week, for as long as it runs it: another run of the same
-- week (a second backfill, another process) finds it taken and leaves the week alone. A killed
-- process's connection ends, and its lock with it, so a crash never stands in a resume's way;
-- a vanished host is noticed by TCP keepalives within two minutes, not PostgreSQL's default two
-- hours.
select
    pg_try_advisory_lock(hashtextextended(%(lock_key)s, 0)) as is_locked,
    set_config('tcp_keepalives_idle', '60', false),
    set_config('tcp_keepalives_interval', '10', false),
    set_config('tcp_keepalives_count', '6', false)
