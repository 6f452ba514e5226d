select coalesce(max(seq), 0) + 1 from executions
