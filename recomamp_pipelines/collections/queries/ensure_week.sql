insert into report_data_weeks (collection_id, week_start_date, week_end_date, week_number, status)
values (%(collection_id)s, %(week_start_date)s, %(week_end_date)s, %(week_number)s, 'PENDING')
on conflict (collection_id, week_start_date) do nothing
