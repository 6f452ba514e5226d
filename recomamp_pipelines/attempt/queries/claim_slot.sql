select claim_amc_instance_slot(%(instance_id)s, %(execution_id)s)
