-- The newest published week of a workflow's collections: where mapped_from_node values come from.
select wk.collection_id, wk.week_start_date
from report_data_weeks as wk
inner join report_data_collections as c on c.id = wk.collection_id
where c.workflow_id = %(workflow_id)s and wk.status = 'SUCCESS' and wk.data_checksum is not null
order by wk.week_start_date desc, wk.completed_at desc
limit 1
