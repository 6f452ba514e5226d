-- The next collections to register (new, or their range changed), skipping those being
-- registered by another session.
select id, name, start_date, end_date, partition_key
from report_data_collections
where partition_key is null
    or registered_start_date is distinct from start_date
    or registered_end_date is distinct from end_date
order by created_at, id
limit %(batch)s
for update skip locked
