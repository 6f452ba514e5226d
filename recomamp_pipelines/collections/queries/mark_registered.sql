update report_data_collections
set
    partition_key = %(partition_key)s,
    registered_start_date = start_date,
    registered_end_date = end_date
where id = %(collection_id)s
