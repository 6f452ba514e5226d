select
    attribute.attname as column_name,
    format_type(attribute.atttypid, attribute.atttypmod) as column_type
from pg_catalog.pg_attribute as attribute
inner join pg_catalog.pg_class as relation on relation.oid = attribute.attrelid
inner join pg_catalog.pg_namespace as namespace on namespace.oid = relation.relnamespace
where namespace.nspname = %(schema_name)s
    and relation.relname = %(table_name)s
    and attribute.attnum > 0
    and not attribute.attisdropped
order by attribute.attnum
