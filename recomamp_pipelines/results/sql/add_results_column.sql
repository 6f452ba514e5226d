alter table {results_table} add column {column} {column_type}
