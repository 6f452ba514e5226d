select
    relation.relname as table_name,
    obj_description(relation.oid, 'pg_class') as staged_at
from pg_catalog.pg_class as relation
inner join pg_catalog.pg_namespace as namespace on namespace.oid = relation.relnamespace
where namespace.nspname = %(schema_name)s
    and relation.relkind = 'r'
order by relation.relname
