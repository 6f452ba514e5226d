-- The same verdict on every instance of a user, when the check could not reach any.
update amc_instances
set health_status = %(health_status)s,
    health_error = %(health_error)s,
    last_health_check = now(),
    updated_at = now()
where user_id = %(user_id)s
  and (cardinality(%(instance_ids)s::text[]) = 0 or instance_id = any(%(instance_ids)s::text[]))
