-- When the week was staged, so that tables left by a crashed run can be found and dropped.
comment on table {staging_table} is {staged_at}
