update report_data_collections as c
set
    partition_key = registered.partition_key,
    registered_start_date = c.start_date,
    registered_end_date = c.end_date
from unnest(%(collection_ids)s::uuid [], %(partition_keys)s::text [])
    as registered (collection_id, partition_key)
where c.id = registered.collection_id
