select
    wk.id as week_id,
    wk.status as week_status,
    wk.data_checksum,
    wk.retry_count,
    ex.sql_hash as published_request_hash
from report_data_weeks as wk
left join workflow_executions as ex on ex.id = wk.workflow_execution_id
where wk.collection_id = %(collection_id)s and wk.week_start_date = %(week_start_date)s
