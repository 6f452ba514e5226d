-- Collections whose partitions are registered for their current range, with the owner's zone.
select
    c.id,
    c.name,
    c.partition_key,
    c.status,
    c.start_date,
    c.end_date,
    coalesce(u.timezone, 'UTC') as timezone
from report_data_collections as c
inner join users as u on u.id = c.user_id
where c.partition_key is not null
    and c.status = any(%(statuses)s)
    and c.registered_start_date = c.start_date
    and c.registered_end_date = c.end_date
order by c.created_at, c.id
