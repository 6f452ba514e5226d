copy {table} ({columns}) from stdin with (format binary)
