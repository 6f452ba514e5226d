-- FREEZE: the table was created in this transaction, so later scans need not set hint bits.
copy {staging_table} ({columns}) from stdin with (format csv, header true, freeze true)
