-- The verdict of an access check on one of the user's instances.
update amc_instances
set health_status = %(health_status)s,
    health_error = %(health_error)s,
    last_health_check = now(),
    updated_at = now()
where instance_id = %(instance_id)s
  and user_id = %(user_id)s
