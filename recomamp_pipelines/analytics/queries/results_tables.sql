-- Every workflow's results table and its columns with their types, in table order.
select
    tables.relname as table_name,
    columns.attname as column_name,
    format_type(columns.atttypid, columns.atttypmod) as column_type
from pg_class as tables
inner join pg_namespace as schemas on schemas.oid = tables.relnamespace
inner join pg_attribute as columns on columns.attrelid = tables.oid
where
    schemas.nspname = 'results'
    and tables.relkind in ('r', 'p')
    and tables.relname ~ '^workflow_[0-9a-f]{32}$'
    and columns.attnum > 0
    and not columns.attisdropped
order by tables.relname, columns.attnum
