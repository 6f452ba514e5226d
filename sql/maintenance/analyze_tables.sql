-- Refresh the planner statistics of the busiest tables (after a large backfill, for instance).
analyze workflows;
analyze workflow_executions;
analyze report_data_collections;
analyze report_data_weeks;
analyze schedule_runs;
