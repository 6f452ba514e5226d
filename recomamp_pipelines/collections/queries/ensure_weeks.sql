-- The weeks of a batch of collections as `report_data_weeks` rows, PENDING unless they exist
-- already: one statement for the whole batch, so that the progress trigger runs once. A
-- collection's weeks run every 7 days from its first week to its last, numbered from 1 (none
-- for an empty range, whose first and last are null).
insert into report_data_weeks (collection_id, week_start_date, week_end_date, week_number, status)
select
    covered.collection_id,
    covered.first_week_start_date + 7 * n.offset_weeks,
    covered.first_week_start_date + 7 * n.offset_weeks + 6,
    n.offset_weeks + 1,
    'PENDING'
from unnest(
    %(collection_ids)s::uuid [], %(first_week_start_dates)s::date [],
    %(last_week_start_dates)s::date []
) as covered (collection_id, first_week_start_date, last_week_start_date)
cross join lateral generate_series(
    0, (covered.last_week_start_date - covered.first_week_start_date) / 7
) as n (offset_weeks)
on conflict (collection_id, week_start_date) do nothing
