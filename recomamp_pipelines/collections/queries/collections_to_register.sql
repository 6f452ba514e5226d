-- The next collection to register (new, or its range changed), skipping one being registered.
select id, name, start_date, end_date, partition_key
from report_data_collections
where partition_key is null
    or registered_start_date is distinct from start_date
    or registered_end_date is distinct from end_date
order by created_at
limit 1
for update skip locked
