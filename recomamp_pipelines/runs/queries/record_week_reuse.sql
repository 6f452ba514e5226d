insert into collection_week_reuses (
    collection_week_id, instance_id, execution_id, request_hash, dagster_run_id, reason
)
select
    wk.id,
    c.instance_id,
    wk.workflow_execution_id,
    %(request_hash)s,
    %(dagster_run_id)s,
    'SAME_REQUEST'
from report_data_weeks as wk
inner join report_data_collections as c on c.id = wk.collection_id
where wk.collection_id = %(collection_id)s and wk.week_start_date = %(week_start_date)s
