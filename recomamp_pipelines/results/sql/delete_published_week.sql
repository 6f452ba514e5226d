delete from {results_table}
where source_kind = %(source_kind)s
    and source_id = %(source_id)s
    and window_start = %(window_start)s
    and window_end = %(window_end)s
