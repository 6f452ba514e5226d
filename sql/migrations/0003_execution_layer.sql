-- What the execution layer records per week and per AMC execution, beyond the document.
-- Added columns are nullable or have defaults: inserts written against the document still work.
-- depends: 0002_baseline

-- One row per week of a collection, whose end does not precede its start (the week length is
-- configurable, so week_end_date = week_start_date + 6 is deliberately not required).
alter table report_data_weeks
    add constraint uq_report_data_weeks_collection_week unique (collection_id, week_start_date),
    add constraint chk_week_end_date_not_before_start_date
        check (week_end_date >= week_start_date),
    add column data_checksum text
        constraint chk_week_data_checksum_is_sha256_hex check (data_checksum ~ '^[0-9a-f]{64}$'),
    add column result_location text,
    add column refreshed_at timestamptz;

comment on column report_data_weeks.data_checksum is
    'sha256 (lower-case hex) of the week''s result data, to tell a changed refresh from a same one';
comment on column report_data_weeks.result_location is
    'Where the week''s rows are stored: a results.<table> name or a file URI';

alter table workflow_executions
    add column dagster_run_id text,
    add column heartbeat_at timestamptz,
    add column amc_status text,
    add column amc_workflow_id text,
    add column collection_id uuid,
    add column week_start_date date,
    add column schedule_run_id uuid
        constraint fk_execution_schedule_run references schedule_runs (id) on delete set null,
    add column time_window_start timestamp,
    add column time_window_end timestamp,
    add column time_window_time_zone text,
    add column parameter_values jsonb,
    add column sql_hash text,
    add column submitted_at timestamptz,
    add column result_location text,
    add column instance_id uuid,
    -- An execution's collection and instance belong to its owner. Deleting the collection or
    -- the instance keeps the execution as history and clears only that column.
    add constraint fk_execution_user_collection foreign key (collection_id, user_id)
        references report_data_collections (id, user_id) on delete set null (collection_id),
    add constraint fk_execution_user_instance foreign key (instance_id, user_id)
        references amc_instances (id, user_id) on delete set null (instance_id),
    add constraint chk_execution_time_window
        check (time_window_end is null or time_window_start is null
               or time_window_end >= time_window_start);

comment on column workflow_executions.amc_status is
    'AMC''s own status word (PENDING, RUNNING, SUCCEEDED, REJECTED, ...), mapped to status';
comment on column workflow_executions.time_window_start is
    'AMC timeWindowStart as sent, local to time_window_time_zone (no offset: AMC ignores it)';

-- At most one unfinished AMC execution per collection week: a retry cannot start while a
-- PENDING or RUNNING attempt exists.
create unique index uq_workflow_executions_one_active_per_week
    on workflow_executions (collection_id, week_start_date)
    where status in ('PENDING', 'RUNNING');

create index idx_workflow_executions_collection_week
    on workflow_executions (collection_id, week_start_date);
create index idx_workflow_executions_dagster_run_id
    on workflow_executions (dagster_run_id) where dagster_run_id is not null;
create index idx_workflow_executions_in_flight
    on workflow_executions (instance_id, heartbeat_at) where status in ('PENDING', 'RUNNING');
create index idx_workflow_executions_schedule_run_id
    on workflow_executions (schedule_run_id) where schedule_run_id is not null;

-- The schedule run an execution points to must be one of the user's own.
alter policy executions_user_access on workflow_executions
    with check (
        user_id = (select auth.uid())
        and (workflow_executions.schedule_run_id is null or exists (
            select 1 from schedule_runs as r where r.id = workflow_executions.schedule_run_id
        ))
    );
