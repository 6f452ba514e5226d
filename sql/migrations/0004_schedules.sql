-- Schedules as the original application really stored them (cron or every-N-days cadence,
-- rolling windows, auto-pause), schedule runs that exist while they run, and the exactly-once
-- claim of each due tick.
-- depends: 0003_execution_layer

alter table workflow_schedules
    add column schedule_type text not null default 'cron'
        constraint chk_schedule_type check (schedule_type in ('cron', 'interval')),
    add column interval_days integer constraint chk_schedule_interval_days check (interval_days > 0),
    add column anchor_date date,
    -- Preset metadata for display; the cadence itself is cron_expression or interval_days.
    -- 0 = Monday, as in Python's date.weekday().
    add column day_of_week integer
        constraint chk_schedule_day_of_week check (day_of_week between 0 and 6),
    add column day_of_month integer
        constraint chk_schedule_day_of_month check (day_of_month between 1 and 31),
    add column lookback_days integer
        constraint chk_schedule_lookback_days check (lookback_days > 0),
    add column date_range_type text,
    add column window_size_days integer
        constraint chk_schedule_window_size_days check (window_size_days > 0),
    add column auto_pause_on_failure boolean not null default false,
    add column failure_threshold integer
        constraint chk_schedule_failure_threshold check (failure_threshold > 0),
    add column consecutive_failures integer not null default 0
        constraint chk_schedule_consecutive_failures check (consecutive_failures >= 0),
    -- Set when a row cannot be scheduled (e.g. an invalid cron expression), so that the
    -- scheduler reports it once instead of failing on it at every tick.
    add column last_error text,
    alter column cron_expression drop not null,
    add constraint chk_schedule_cadence check (
        (schedule_type = 'cron' and cron_expression is not null)
        or (schedule_type = 'interval' and interval_days is not null and anchor_date is not null)
    ),
    add constraint chk_schedule_last_run_status
        check (last_run_status in ('RUNNING', 'SUCCESS', 'FAILED', 'SKIPPED'));

alter table schedule_runs
    add column run_number integer constraint chk_schedule_run_number check (run_number > 0),
    add column scheduled_at timestamptz,
    add column started_at timestamptz,
    add column completed_at timestamptz,
    add column dagster_run_id text,
    add column lateness_seconds double precision,
    add column window_start timestamp,
    add column window_end timestamp,
    add column result_location text,
    add column updated_at timestamptz default now(),
    add constraint chk_schedule_run_status
        check (status in ('RUNNING', 'SUCCESS', 'FAILED', 'SKIPPED')),
    add constraint chk_schedule_run_window
        check (window_end is null or window_start is null or window_end >= window_start),
    add constraint uq_schedule_runs_run_number unique (schedule_id, run_number);

create index idx_schedule_runs_scheduled_at on schedule_runs (schedule_id, scheduled_at);

create trigger trigger_set_updated_at before update on schedule_runs
    for each row execute function set_updated_at();

-- A tick (schedule, scheduled_at) is claimed by inserting its row: the unique key lets exactly
-- one of any number of concurrent schedulers win (INSERT ... ON CONFLICT DO NOTHING RETURNING).
-- A retry of the same tick updates the row (attempt + 1) instead of claiming it again.
create table schedule_tick_claims (
    id uuid primary key default gen_random_uuid(),
    schedule_id uuid not null references workflow_schedules (id) on delete cascade,
    scheduled_at timestamptz not null,
    attempt integer not null default 1 constraint chk_tick_claim_attempt check (attempt >= 1),
    claimed_at timestamptz not null default now(),
    run_key text,
    dagster_run_id text,
    schedule_run_id uuid references schedule_runs (id) on delete set null,
    status text not null default 'CLAIMED'
        constraint chk_tick_claim_status
        check (status in ('CLAIMED', 'LAUNCHED', 'RUNNING', 'SUCCESS', 'FAILED', 'SKIPPED')),
    updated_at timestamptz default now(),
    constraint uq_schedule_tick_claims_tick unique (schedule_id, scheduled_at)
);

create unique index uq_schedule_tick_claims_run_key
    on schedule_tick_claims (run_key) where run_key is not null;
create index idx_schedule_tick_claims_schedule_run on schedule_tick_claims (schedule_run_id);

create trigger trigger_set_updated_at before update on schedule_tick_claims
    for each row execute function set_updated_at();

-- Claims are the scheduler's (the owner's); users may see those of their own schedules.
alter table schedule_tick_claims enable row level security;
create policy schedule_tick_claims_read on schedule_tick_claims for select to authenticated
    using (exists (
        select 1 from workflow_schedules as s
        where s.id = schedule_tick_claims.schedule_id and s.user_id = (select auth.uid())
    ));
grant select on schedule_tick_claims to authenticated;
