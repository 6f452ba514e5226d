insert into {results_table} (
    window_start, window_end, source_kind, source_id, user_id, week_start_date, {columns}
)
select
    %(window_start)s::timestamp,
    %(window_end)s::timestamp,
    %(source_kind)s::text,
    %(source_id)s::uuid,
    %(user_id)s::uuid,
    %(week_start_date)s::date,
    {values}
from {staging_table}
