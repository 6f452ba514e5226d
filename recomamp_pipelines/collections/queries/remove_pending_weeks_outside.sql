-- A shrunk range drops the weeks it no longer covers, unless they hold a result or a run.
delete from report_data_weeks as wk
where wk.collection_id = %(collection_id)s
    and wk.status = 'PENDING'
    and wk.workflow_execution_id is null
    and wk.data_checksum is null
    and not (wk.week_start_date = any(%(week_start_dates)s))
