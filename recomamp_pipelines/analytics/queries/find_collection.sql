-- Collections matching an id, an exact name or a Dagster partition key, with their template.
select
    collections.collection_id,
    collections.collection_name,
    collections.user_id,
    collections.template_key,
    collections.template_name,
    collections.partition_key
from analytics.stg_collections as collections
where
    collections.collection_id::text = %(value)s
    or collections.collection_name = %(value)s
    or collections.partition_key = %(value)s
order by collections.created_at
