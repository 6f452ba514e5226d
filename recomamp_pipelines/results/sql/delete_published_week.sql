delete from {results_table}
where {week_rows}
