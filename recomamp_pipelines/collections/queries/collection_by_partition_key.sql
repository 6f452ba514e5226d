select id from report_data_collections where partition_key = %(partition_key)s
