-- Each week row of the given collections from `since` on, with its latest execution attempt.
select
    wk.collection_id,
    wk.week_start_date,
    wk.status,
    wk.data_checksum is not null as has_result,
    wk.refreshed_at,
    coalesce(wk.retry_count, 0) as retry_count,
    (
        select max(ex.created_at)
        from workflow_executions as ex
        where ex.collection_id = wk.collection_id and ex.week_start_date = wk.week_start_date
    ) as last_attempt_at
from report_data_weeks as wk
where wk.collection_id = any(%(collection_ids)s) and wk.week_start_date >= %(since)s
