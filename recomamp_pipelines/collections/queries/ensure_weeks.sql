-- The weeks of a batch of collections as `report_data_weeks` rows, PENDING unless they exist
-- already: one statement for the whole batch, so that the progress trigger runs once.
insert into report_data_weeks (collection_id, week_start_date, week_end_date, week_number, status)
select week.collection_id, week.start_date, week.end_date, week.number, 'PENDING'
from unnest(
    %(collection_ids)s::uuid [],
    %(week_start_dates)s::date [],
    %(week_end_dates)s::date [],
    %(week_numbers)s::int []
) as week (collection_id, start_date, end_date, number)
on conflict (collection_id, week_start_date) do nothing
