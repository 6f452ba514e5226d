-- A published week as its materialization describes it, for a week reused without AMC.
select
    week.result_rows,
    week.amc_execution_id,
    week.execution_duration,
    week.data_checksum,
    week.summary_stats,
    week.result_location as results_table,
    execution.result_location as parquet_path,
    execution.result_data as preview
from report_data_weeks as week
left join workflow_executions as execution on execution.id = week.execution_id
where week.collection_id = %(collection_id)s
    and week.week_start_date = %(week_start_date)s
    and week.status = 'SUCCESS'
