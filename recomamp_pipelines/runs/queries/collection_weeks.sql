select week_start_date, week_end_date, status, summary_stats, error_message
from report_data_weeks
where collection_id = %(collection_id)s
order by week_start_date
