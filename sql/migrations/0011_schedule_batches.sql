-- What the schedules sensor needs beyond 0004: the local time of day of every-N-days schedules,
-- and claims grouped into Dagster runs. One run serves up to K claimed ticks; its run_key (kept
-- in batch_run_key, shared by those claims) is derived from the claims and their attempt
-- numbers, while run_key stays each claim's own unique key (`<claim id>@<attempt>`).
-- depends: 0010_collection_partitions

alter table workflow_schedules
    add column time_of_day time,
    add constraint chk_schedule_time_of_day
        check (time_of_day is null or schedule_type = 'interval');

comment on column workflow_schedules.time_of_day is
    'Local wall-clock time of an interval schedule''s runs (00:00 when null)';

alter table schedule_tick_claims
    add column batch_run_key text,
    add column missed_ticks integer not null default 0
        constraint chk_tick_claim_missed_ticks check (missed_ticks >= 0);

comment on column schedule_tick_claims.batch_run_key is
    'Dagster run_key of the run serving this claim (shared by the claims of that run)';
comment on column schedule_tick_claims.missed_ticks is
    'Earlier fire times this tick stands in for (the schedule was not evaluated at them)';

-- The sensor's reconciliation reads claims whose run has not taken them yet.
create index idx_schedule_tick_claims_waiting
    on schedule_tick_claims (batch_run_key) where status = 'CLAIMED';
