select
    wk.week_start_date,
    wk.week_end_date,
    wk.status,
    wk.result_rows,
    wk.amc_execution_id,
    wk.error_message
from report_data_weeks as wk
where wk.collection_id = %(collection_id)s
order by wk.week_start_date
