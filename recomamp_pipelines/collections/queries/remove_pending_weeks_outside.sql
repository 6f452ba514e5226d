-- A shrunk range drops the weeks it no longer covers, unless they hold a result or a run. A
-- collection's weeks run every 7 days from its first week to its last (none for an empty
-- range): a week outside that span, or off its days, is no longer covered.
delete from report_data_weeks as wk
using unnest(
    %(collection_ids)s::uuid [], %(first_week_start_dates)s::date [],
    %(last_week_start_dates)s::date []
) as covered (collection_id, first_week_start_date, last_week_start_date)
where wk.collection_id = covered.collection_id
    and wk.status = 'PENDING'
    and wk.workflow_execution_id is null
    and wk.data_checksum is null
    and (
        covered.first_week_start_date is null
        or wk.week_start_date < covered.first_week_start_date
        or wk.week_start_date > covered.last_week_start_date
        or mod(wk.week_start_date - covered.first_week_start_date, 7) <> 0
    )
