-- Weeks are loaded straight into their workflow's results table, in one transaction with their
-- checks: the staging schema is no longer used. DECIMAL output columns are read as doubles, so
-- they are stored as double precision; results tables made before keep their rows, converted.
-- depends: 0012_results_staging_schema

drop schema if exists results_staging cascade;

do $$
declare
    target record;
begin
    for target in
        select columns.table_name, columns.column_name
        from information_schema.columns as columns
        where columns.table_schema = 'results' and columns.data_type = 'numeric'
    loop
        execute format(
            'alter table results.%I alter column %I type double precision',
            target.table_name,
            target.column_name
        );
    end loop;
end
$$;
