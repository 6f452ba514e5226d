-- Unlogged: a staged week is rebuilt from its CSV files after a crash, never recovered.
create unlogged table {staging_table} ({columns})
