update report_data_weeks
set
    status = 'SUCCESS',
    workflow_execution_id = %(execution_id)s,
    execution_id = %(execution_id)s,
    amc_execution_id = %(amc_execution_id)s,
    result_rows = %(result_rows)s,
    result_size_bytes = %(result_size_bytes)s,
    execution_duration = %(execution_duration)s,
    summary_stats = %(summary_stats)s,
    data_checksum = %(data_checksum)s,
    result_location = %(result_location)s,
    error_message = null,
    refreshed_at = now(),
    completed_at = now()
where collection_id = %(collection_id)s and week_start_date = %(week_start_date)s
