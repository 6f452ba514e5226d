-- Statements whose mean execution time exceeds 1 s, slowest first, from pg_stat_statements
-- (PostgreSQL 13+ names: mean_exec_time and total_exec_time, in milliseconds).
-- The extension is optional: where it is not installed, or installed but not loaded through
-- shared_preload_libraries, this returns no row and says why in a notice. The function lives
-- in pg_temp: running this file leaves nothing behind.
create or replace function pg_temp.slow_queries(min_mean_exec_time_ms double precision)
returns table (
    query text,
    calls bigint,
    mean_exec_time_ms double precision,
    total_exec_time_ms double precision
)
language plpgsql
as $$
declare
    extension_schema name;
begin
    select n.nspname into extension_schema
    from pg_extension as e
    inner join pg_namespace as n on n.oid = e.extnamespace
    where e.extname = 'pg_stat_statements';
    if extension_schema is null then
        raise notice 'pg_stat_statements is not installed in this database: no statistics';
        return;
    end if;
    return query execute format(
        'select s.query, s.calls, s.mean_exec_time, s.total_exec_time '
        'from %I.pg_stat_statements as s '
        'where s.mean_exec_time > $1 '
        'order by s.mean_exec_time desc',
        extension_schema
    ) using min_mean_exec_time_ms;
exception
    when object_not_in_prerequisite_state then
        raise notice 'pg_stat_statements is installed but not loaded '
            '(add it to shared_preload_libraries): no statistics';
end
$$;

select * from pg_temp.slow_queries(1000);
