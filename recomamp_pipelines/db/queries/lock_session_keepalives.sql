-- A vanished host is noticed by TCP keepalives within two minutes, not PostgreSQL's default two
-- hours, so that the locks of its lock session are released in time for a resume elsewhere.
select
    set_config('tcp_keepalives_idle', '60', false),
    set_config('tcp_keepalives_interval', '10', false),
    set_config('tcp_keepalives_count', '6', false)
