select partition_key from report_data_collections where partition_key is not null
