-- Released AMC slots are announced here (see claim_amc_instance_slot).
listen amc_instance_slots
