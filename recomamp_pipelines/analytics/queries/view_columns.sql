-- The columns of a view of the analytics schema, in order, with their types.
select
    columns.attname as column_name,
    format_type(columns.atttypid, columns.atttypmod) as column_type
from pg_attribute as columns
where columns.attrelid = to_regclass(%(relation_name)s) and columns.attnum > 0
    and not columns.attisdropped
order by columns.attnum
