select * from {staging_table} limit %(limit)s
