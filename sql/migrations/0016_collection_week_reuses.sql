-- A week reused without an AMC call leaves a row. A run that finds a week already published with
-- the request it would send now (same query, same window) keeps the published result and calls
-- AMC for nothing: until now nothing recorded that, so how often the pipeline spared AMC a run
-- could not be counted. One row per reuse, written in the transaction that decides it.
--
-- The rows are the pipeline's, like its slots and tick claims: signed-in users read those of
-- their own collections and can write none.
-- depends: 0015_amc_caps_and_pipeline_columns

create table collection_week_reuses (
    id uuid primary key default gen_random_uuid(),
    collection_week_id uuid not null references report_data_weeks (id) on delete cascade,
    -- The AMC instance the week's result came from, as the collection named it then.
    instance_id uuid references amc_instances (id) on delete set null,
    -- The attempt whose published result was kept.
    execution_id uuid references workflow_executions (id) on delete set null,
    request_hash text not null,
    reused_at timestamptz not null default now(),
    dagster_run_id text,
    reason text not null
        constraint chk_week_reuse_reason check (reason in ('SAME_REQUEST'))
);

comment on table collection_week_reuses is
    'One row each time a run kept a week''s published result instead of calling AMC';
comment on column collection_week_reuses.request_hash is
    'sha256 of the rendered AMC request (query and window) that matched the published one';
comment on column collection_week_reuses.reason is
    'Why no AMC call was needed: SAME_REQUEST, the week is published with the same query and '
    'window';

create index idx_collection_week_reuses_week on collection_week_reuses (collection_week_id);
create index idx_collection_week_reuses_instance_reused_at
    on collection_week_reuses (instance_id, reused_at);
create index idx_collection_week_reuses_execution on collection_week_reuses (execution_id);

alter table collection_week_reuses enable row level security;
create policy collection_week_reuses_read on collection_week_reuses for select to authenticated
    using (exists (
        select 1
        from report_data_weeks as wk
        inner join report_data_collections as c on c.id = wk.collection_id
        where wk.id = collection_week_reuses.collection_week_id
            and c.user_id = (select auth.uid())
    ));

-- Nothing but reading, even where default privileges granted more (Supabase).
revoke all on collection_week_reuses from authenticated;
grant select on collection_week_reuses to authenticated;
