-- AMC has finished the execution: its slot may serve the next submission while this one's
-- result is downloaded, checked and published.
select release_amc_instance_slot(%(execution_id)s)
