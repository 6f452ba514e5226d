select record from executions
where instance_id = ? and status in ('PENDING', 'RUNNING')
order by seq
