-- The views of the analytics schema that `views apply` made, with the comment holding their checksum.
select
    views.relname as view_name,
    obj_description(views.oid, 'pg_class') as view_comment
from pg_class as views
inner join pg_namespace as schemas on schemas.oid = views.relnamespace
where schemas.nspname = %(schema_name)s and views.relkind = 'v'
