-- Where a week whose columns changed type is loaded for its checks to read; it is never
-- published, and the table goes with the transaction.
create temporary table {week_table} ({columns}) on commit drop
