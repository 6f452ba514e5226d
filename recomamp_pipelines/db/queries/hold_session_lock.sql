-- Taken by a process's lock session (db/sessions.py) for as long as the process works on what
-- the key names: a week ('recomamp-week:<collection>:<week>') or an attempt
-- ('recomamp-attempt:<id>'). Another session finds it taken and leaves that work alone; a
-- process that dies ends its session, and the lock with it.
select pg_try_advisory_lock(hashtextextended(%(key)s, 0)) as is_locked
