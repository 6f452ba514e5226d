-- One row per collection and week: status, AMC's error, and the week's summary_stats unpacked:
-- its ratios, and the totals of the metrics the marts add up (computed by the ingest from the
-- week's rows; null where the result has no such column).
with

weeks as (
    select * from public.report_data_weeks
),

final as (
    select
        weeks.id as collection_week_id,
        weeks.collection_id,
        weeks.week_start_date,
        weeks.week_end_date,
        weeks.week_number,
        weeks.status as week_status,
        weeks.status = 'SUCCESS' as is_published,
        weeks.error_message,
        coalesce(weeks.retry_count, 0) as retry_count,
        weeks.workflow_execution_id as execution_id,
        weeks.amc_execution_id,
        weeks.execution_duration as execution_seconds,
        weeks.result_rows,
        weeks.result_size_bytes,
        weeks.data_checksum,
        weeks.result_location,
        (weeks.summary_stats ->> 'row_count')::bigint as stats_row_count,
        (weeks.summary_stats ->> 'filtered_row_count')::bigint as stats_filtered_row_count,
        (weeks.summary_stats ->> 'filtered_row_share')::double precision
            as stats_filtered_row_share,
        (weeks.summary_stats ->> 'ctr')::double precision as stats_ctr,
        (weeks.summary_stats ->> 'cpc')::double precision as stats_cpc,
        (weeks.summary_stats ->> 'cpm')::double precision as stats_cpm,
        (weeks.summary_stats ->> 'cvr')::double precision as stats_cvr,
        (weeks.summary_stats ->> 'acos')::double precision as stats_acos,
        (weeks.summary_stats ->> 'roas')::double precision as stats_roas,
        (weeks.summary_stats ->> 'ntb_sales_share')::double precision as stats_ntb_sales_share,
        {{ summary_metrics('weeks.summary_stats') }},
        weeks.summary_stats,
        weeks.started_at,
        weeks.completed_at,
        weeks.refreshed_at,
        weeks.updated_at
    from weeks
)

select * from final
