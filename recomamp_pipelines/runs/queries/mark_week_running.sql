update report_data_weeks
set
    status = case when status = 'SUCCESS' then status else 'RUNNING' end,
    workflow_execution_id = case when status = 'SUCCESS' then workflow_execution_id
        else %(execution_id)s end,
    execution_id = case when status = 'SUCCESS' then execution_id else %(execution_id)s end,
    amc_execution_id = case when status = 'SUCCESS' then amc_execution_id
        else coalesce(%(amc_execution_id)s, amc_execution_id) end,
    started_at = coalesce(started_at, now()),
    error_message = null
where collection_id = %(collection_id)s and week_start_date = %(week_start_date)s
