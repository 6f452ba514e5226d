-- Indexes of the public schema never used by a scan since statistics were last reset, largest
-- first. Indexes that enforce a primary key, a unique or an exclusion constraint are left out:
-- they are needed whether or not a query reads them.
select
    s.schemaname as schema_name,
    s.relname as table_name,
    s.indexrelname as index_name,
    s.idx_scan as index_scans,
    pg_size_pretty(pg_relation_size(s.indexrelid)) as index_size
from pg_stat_user_indexes as s
inner join pg_index as i on i.indexrelid = s.indexrelid
where s.schemaname = 'public'
  and s.idx_scan = 0
  and not i.indisunique
  and not i.indisprimary
  and not i.indisexclusion
order by pg_relation_size(s.indexrelid) desc, s.relname, s.indexrelname;
