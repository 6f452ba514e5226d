select summary_stats
from report_data_weeks
where collection_id = %(collection_id)s
    and week_start_date < %(week_start_date)s
    and status = 'SUCCESS'
    and summary_stats is not null
order by week_start_date desc
limit 4
