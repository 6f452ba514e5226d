source_kind = {source_kind}
and source_id = {source_id}
and window_start = {window_start}
and window_end = {window_end}
