-- Views or materialized views, not among the given relations, that read one of them.
select distinct dependent.oid::regclass::text as relation_name
from pg_depend as dependency
inner join pg_rewrite as rewrite on rewrite.oid = dependency.objid
inner join pg_class as dependent on dependent.oid = rewrite.ev_class
where
    dependency.classid = 'pg_rewrite'::regclass
    and dependency.refobjid = any(%(relation_ids)s::oid [])
    and dependent.oid <> all(%(relation_ids)s::oid [])
order by 1
