drop table if exists {staging_table}
