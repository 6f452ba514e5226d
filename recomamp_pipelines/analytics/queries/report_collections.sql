select
    collection_id,
    collection_name,
    user_id,
    template_key,
    template_name,
    partition_key
from analytics.stg_collections
order by created_at, collection_id
