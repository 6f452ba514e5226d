-- A collection's weeks as `report_data_weeks` rows, PENDING unless they exist already: one
-- statement for the whole range, so that the progress trigger runs once, not once a week.
insert into report_data_weeks (collection_id, week_start_date, week_end_date, week_number, status)
select %(collection_id)s, week.start_date, week.end_date, week.number, 'PENDING'
from unnest(%(week_start_dates)s::date [], %(week_end_dates)s::date [], %(week_numbers)s::int [])
    as week (start_date, end_date, number)
on conflict (collection_id, week_start_date) do nothing
