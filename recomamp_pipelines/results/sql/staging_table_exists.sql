select to_regclass(%(qualified_name)s) is not null as staging_table_exists
