-- A week that already holds a good result keeps it (a failed refresh only notes why); any
-- other week is FAILED with the reason.
update report_data_weeks
set
    status = case when status = 'SUCCESS' and data_checksum is not null then 'SUCCESS'
        else 'FAILED' end,
    error_message = case when status = 'SUCCESS' and data_checksum is not null
        then 'refresh failed, previous result kept: ' || %(error_message)s
        else %(error_message)s end,
    amc_execution_id = case when status = 'SUCCESS' and data_checksum is not null
        then amc_execution_id else coalesce(%(amc_execution_id)s, amc_execution_id) end,
    retry_count = coalesce(retry_count, 0) + 1,
    completed_at = now()
where collection_id = %(collection_id)s and week_start_date = %(week_start_date)s
returning status
