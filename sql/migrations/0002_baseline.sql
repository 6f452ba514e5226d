-- The RecomAMP schema as documented (seed/recomamp-database-schema.md), made to load and
-- behave on PostgreSQL 15+. Every departure from the document is a numbered defect in
-- sql/README.md; the comments below name them as "defect N".
-- depends: 0001_auth_compat

-- ---------------------------------------------------------------------------------------------
-- Users and AMC instances
-- ---------------------------------------------------------------------------------------------

create table users (
    id uuid primary key default gen_random_uuid(),
    email text unique not null,
    full_name text,
    avatar_url text,

    -- OAuth integration
    amazon_user_id text unique,
    encrypted_access_token text,
    encrypted_refresh_token text,
    token_expires_at timestamptz,

    -- User preferences (the time zone is validated in code: IANA names are not a constraint)
    timezone text default 'UTC',
    email_notifications boolean default true,

    -- Audit fields
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    last_login_at timestamptz,
    is_active boolean default true
);

create index idx_users_email on users (email);
create index idx_users_amazon_user_id on users (amazon_user_id);
create index idx_users_active on users (is_active) where is_active = true;

create table amc_accounts (
    id uuid primary key default gen_random_uuid(),
    account_id text unique not null, -- the entity id sent to the AMC API
    account_name text not null,
    advertiser_id text,
    profile_id text,
    country_code text default 'US',

    created_at timestamptz default now(),
    updated_at timestamptz default now()
);

create unique index idx_amc_accounts_account_id on amc_accounts (account_id);

create table amc_instances (
    id uuid primary key default gen_random_uuid(),
    instance_id text not null, -- AMC's string identifier, e.g. "amcibersblt"
    name text not null,
    description text,
    region text default 'us-east-1',

    user_id uuid not null references users (id) on delete cascade,
    account_id uuid not null references amc_accounts (id) on delete cascade,

    is_active boolean default true,
    -- defect 9: the status vocabulary was a comment only
    health_status text not null default 'UNKNOWN'
        constraint chk_instance_health_status
        check (health_status in ('HEALTHY', 'UNHEALTHY', 'ERROR', 'UNKNOWN')),
    health_error text,
    last_health_check timestamptz,

    campaigns_last_sync timestamptz,
    schema_last_sync timestamptz,

    created_at timestamptz default now(),
    updated_at timestamptz default now(),

    -- defect 3: target of the composite keys that keep a child row with its owner
    constraint amc_instances_id_user_id_key unique (id, user_id)
);

create index idx_amc_instances_user_id on amc_instances (user_id);
create index idx_amc_instances_active on amc_instances (is_active) where is_active = true;
create unique index idx_amc_instances_instance_id on amc_instances (instance_id, user_id);

-- ---------------------------------------------------------------------------------------------
-- Query library. Defect 1: the document creates query_templates after workflows, which
-- references it.
-- ---------------------------------------------------------------------------------------------

create table query_templates (
    id uuid primary key default gen_random_uuid(),
    name text not null,
    description text,
    category text not null,

    sql_template text not null,
    parameters jsonb default '{}', -- legacy parameter definitions
    parameters_schema jsonb default '{}', -- JSON Schema of the parameters

    report_config jsonb,
    version integer default 1,
    -- defect 16: without ON DELETE a template that someone forked could never be deleted
    parent_template_id uuid references query_templates (id) on delete set null,
    execution_count integer default 0,

    tags text[] default '{}',
    difficulty_level text, -- BEGINNER, INTERMEDIATE, ADVANCED
    estimated_runtime text,

    usage_count integer default 0,
    last_used_at timestamptz,

    author_id uuid references users (id) on delete set null,
    is_official boolean default false,
    is_public boolean default true,

    created_at timestamptz default now(),
    updated_at timestamptz default now()
);

create index idx_query_templates_category on query_templates (category);
create index idx_query_templates_tags on query_templates using gin (tags);
create index idx_query_templates_usage on query_templates (usage_count desc);
create index idx_query_templates_public on query_templates (is_public) where is_public = true;
create index idx_query_templates_parent on query_templates (parent_template_id);
create index idx_query_templates_execution_usage
    on query_templates (execution_count desc, created_at desc);

create table query_template_parameters (
    id uuid primary key default gen_random_uuid(),
    template_id uuid not null references query_templates (id) on delete cascade,
    parameter_name text not null,
    parameter_type text not null check (parameter_type in (
        'asin_list', 'campaign_list', 'date_range', 'date_expression',
        'campaign_filter', 'threshold_numeric', 'percentage', 'enum_select',
        'string', 'number', 'boolean', 'string_list', 'mapped_from_node'
    )),

    display_name text not null,
    description text,
    display_order integer,
    group_name text,

    required boolean default true,
    default_value jsonb,
    validation_rules jsonb,

    ui_config jsonb,

    created_at timestamptz default now(),
    updated_at timestamptz default now(),

    unique (template_id, parameter_name)
);

create index idx_template_parameters_template on query_template_parameters (template_id);
create index idx_template_parameters_order
    on query_template_parameters (template_id, display_order);

create table query_template_reports (
    id uuid primary key default gen_random_uuid(),
    template_id uuid not null references query_templates (id) on delete cascade,
    report_name text not null,

    dashboard_config jsonb not null,
    field_mappings jsonb not null,
    default_filters jsonb,
    widget_order jsonb,

    created_at timestamptz default now(),
    updated_at timestamptz default now()
);

create index idx_template_reports_template on query_template_reports (template_id);

create table query_template_instances (
    id uuid primary key default gen_random_uuid(),
    template_id uuid not null references query_templates (id) on delete cascade,
    user_id uuid not null references users (id) on delete cascade,

    instance_name text not null,
    saved_parameters jsonb not null,

    is_favorite boolean default false,
    last_executed_at timestamptz,
    execution_count integer default 0,

    created_at timestamptz default now(),
    updated_at timestamptz default now()
);

create index idx_template_instances_user
    on query_template_instances (user_id, is_favorite desc, last_executed_at desc);
create index idx_template_instances_template on query_template_instances (template_id);

-- ---------------------------------------------------------------------------------------------
-- Workflows, executions, schedules
-- ---------------------------------------------------------------------------------------------

create table workflows (
    id uuid primary key default gen_random_uuid(),
    name text not null,
    description text,
    sql_query text not null,

    user_id uuid not null references users (id) on delete cascade,
    instance_id uuid not null references amc_instances (id) on delete cascade,
    template_id uuid references query_templates (id) on delete set null,

    parameters jsonb default '{}',
    tags text[] default '{}',
    is_public boolean default false,

    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    last_executed_at timestamptz,

    constraint workflows_id_user_id_key unique (id, user_id),
    -- defect 3: a workflow runs on an instance of its own owner
    constraint fk_workflow_user_instance foreign key (instance_id, user_id)
        references amc_instances (id, user_id) on delete cascade
);

create index idx_workflows_user_id on workflows (user_id);
create index idx_workflows_instance_id on workflows (instance_id);
create index idx_workflows_last_executed on workflows (last_executed_at);
create index idx_workflows_tags on workflows using gin (tags);

create table workflow_executions (
    id uuid primary key default gen_random_uuid(),
    amc_execution_id text, -- AMC's workflowExecutionId

    workflow_id uuid not null references workflows (id) on delete cascade,
    user_id uuid not null references users (id) on delete cascade,

    status text not null default 'PENDING',
    parameters jsonb default '{}',

    result_data jsonb,
    result_rows integer,
    result_size_bytes bigint,
    execution_duration integer, -- seconds

    error_message text,
    error_type text,
    retry_count integer default 0,
    next_retry_at timestamptz,

    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    started_at timestamptz,
    completed_at timestamptz,

    constraint chk_execution_status
        check (status in ('PENDING', 'RUNNING', 'SUCCESS', 'FAILED', 'CANCELLED', 'TIMEOUT')),
    -- defect 2: the document's CHECK (user_id = (SELECT ...)) is refused by PostgreSQL
    constraint fk_execution_user_workflow foreign key (workflow_id, user_id)
        references workflows (id, user_id) on delete cascade
);

create index idx_workflow_executions_workflow_id on workflow_executions (workflow_id);
create index idx_workflow_executions_user_id on workflow_executions (user_id);
create index idx_workflow_executions_status on workflow_executions (status);
create index idx_workflow_executions_created_at on workflow_executions (created_at desc);
create index idx_workflow_executions_amc_id
    on workflow_executions (amc_execution_id) where amc_execution_id is not null;

create table workflow_schedules (
    id uuid primary key default gen_random_uuid(),
    name text not null,
    description text,
    cron_expression text not null,
    timezone text default 'UTC',

    workflow_id uuid not null references workflows (id) on delete cascade,
    user_id uuid not null references users (id) on delete cascade,

    is_active boolean default true,
    next_run_at timestamptz not null,
    parameters jsonb default '{}',

    total_runs integer default 0,
    successful_runs integer default 0,
    failed_runs integer default 0,
    last_run_at timestamptz,
    last_run_status text,

    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    paused_at timestamptz,

    -- defect 2
    constraint fk_schedule_user_workflow foreign key (workflow_id, user_id)
        references workflows (id, user_id) on delete cascade
);

create index idx_workflow_schedules_workflow_id on workflow_schedules (workflow_id);
create index idx_workflow_schedules_user_id on workflow_schedules (user_id);
create index idx_workflow_schedules_next_run
    on workflow_schedules (is_active, next_run_at) where is_active = true;

create table schedule_runs (
    id uuid primary key default gen_random_uuid(),

    schedule_id uuid not null references workflow_schedules (id) on delete cascade,
    execution_id uuid references workflow_executions (id) on delete set null,

    status text not null, -- checked from 0004 on, when RUNNING joins the vocabulary
    error_message text,
    duration_seconds integer,

    created_at timestamptz default now()
);

create index idx_schedule_runs_schedule_id on schedule_runs (schedule_id);
create index idx_schedule_runs_created_at on schedule_runs (created_at desc);

-- ---------------------------------------------------------------------------------------------
-- Data collections
-- ---------------------------------------------------------------------------------------------

create table report_data_collections (
    id uuid primary key default gen_random_uuid(),
    name text not null,
    description text,

    workflow_id uuid not null references workflows (id) on delete cascade,
    instance_id uuid not null references amc_instances (id) on delete cascade,
    user_id uuid not null references users (id) on delete cascade,

    start_date date not null,
    end_date date not null,
    parameters jsonb default '{}',

    -- The status belongs to the pipeline; the week counters below belong to the triggers.
    status text not null default 'ACTIVE',
    total_weeks integer not null default 0,
    completed_weeks integer not null default 0,
    failed_weeks integer not null default 0,

    progress_percentage decimal(5, 2) not null default 0,
    estimated_completion timestamptz,

    report_metadata jsonb,
    last_report_generated_at timestamptz,

    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    started_at timestamptz,
    completed_at timestamptz,

    constraint report_data_collections_id_user_id_key unique (id, user_id),
    constraint chk_collection_status check (status in ('ACTIVE', 'PAUSED', 'COMPLETED', 'FAILED')),
    constraint chk_progress_percentage
        check (progress_percentage >= 0 and progress_percentage <= 100),
    -- defect 10
    constraint chk_collection_end_date_not_before_start_date check (end_date >= start_date),
    constraint chk_collection_week_counts check (
        total_weeks >= 0 and completed_weeks >= 0 and failed_weeks >= 0
        and completed_weeks + failed_weeks <= total_weeks
    ),
    -- defect 2
    constraint fk_collection_user_workflow foreign key (workflow_id, user_id)
        references workflows (id, user_id) on delete cascade,
    -- defect 3
    constraint fk_collection_user_instance foreign key (instance_id, user_id)
        references amc_instances (id, user_id) on delete cascade
);

create index idx_data_collections_workflow_id on report_data_collections (workflow_id);
create index idx_data_collections_instance_id on report_data_collections (instance_id);
create index idx_data_collections_user_id on report_data_collections (user_id);
create index idx_data_collections_status on report_data_collections (status);
create index idx_report_data_collections_report_metadata
    on report_data_collections using gin (report_metadata);

create table report_data_weeks (
    id uuid primary key default gen_random_uuid(),

    collection_id uuid not null references report_data_collections (id) on delete cascade,
    execution_id uuid references workflow_executions (id) on delete set null,
    workflow_execution_id uuid references workflow_executions (id) on delete set null,
    amc_execution_id text,

    week_start_date date not null,
    week_end_date date not null,
    week_number integer,

    -- defect 9
    status text not null default 'PENDING'
        constraint chk_week_status
        check (status in ('PENDING', 'RUNNING', 'SUCCESS', 'FAILED', 'SKIPPED')),
    error_message text,
    retry_count integer default 0,

    execution_duration integer, -- seconds
    result_rows integer,
    result_size_bytes bigint,

    summary_stats jsonb, -- per-week totals, averages, min/max

    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    started_at timestamptz,
    completed_at timestamptz
);

create index idx_data_weeks_collection_id on report_data_weeks (collection_id);
create index idx_data_weeks_execution_id on report_data_weeks (execution_id);
create index idx_data_weeks_workflow_execution_id on report_data_weeks (workflow_execution_id);
create index idx_data_weeks_status on report_data_weeks (status);
create index idx_data_weeks_dates on report_data_weeks (week_start_date, week_end_date);
create index idx_report_data_weeks_summary_stats on report_data_weeks using gin (summary_stats);
create index idx_report_data_weeks_collection_date
    on report_data_weeks (collection_id, week_start_date);

create table collection_report_configs (
    id uuid primary key default gen_random_uuid(),
    name text not null,
    description text,

    collection_id uuid not null references report_data_collections (id) on delete cascade,
    user_id uuid not null references users (id) on delete cascade,

    config_data jsonb not null default '{}',

    is_default boolean default false,
    is_shared boolean default false,
    shared_with_users uuid[] default '{}',

    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    last_used_at timestamptz,

    -- defect 3: a dashboard configuration belongs to the collection's owner
    constraint fk_config_user_collection foreign key (collection_id, user_id)
        references report_data_collections (id, user_id) on delete cascade
);

create index idx_collection_report_configs_collection_user
    on collection_report_configs (collection_id, user_id);
create index idx_collection_report_configs_user on collection_report_configs (user_id);
create index idx_collection_report_configs_shared
    on collection_report_configs (is_shared) where is_shared = true;
create index idx_collection_report_configs_config_data
    on collection_report_configs using gin (config_data);
-- defect 28: "the default configuration" of a user's collection must be one row
create unique index uq_collection_report_configs_one_default
    on collection_report_configs (collection_id, user_id) where is_default;

create table collection_report_snapshots (
    id uuid primary key default gen_random_uuid(),
    name text not null,
    description text,

    collection_id uuid not null references report_data_collections (id) on delete cascade,
    config_id uuid references collection_report_configs (id) on delete set null,
    created_by uuid not null references users (id) on delete cascade,

    snapshot_data jsonb not null,
    metadata jsonb default '{}',

    is_public boolean default false,
    access_token text, -- for public sharing
    expires_at timestamptz,

    created_at timestamptz default now(),
    updated_at timestamptz default now()
);

create index idx_collection_report_snapshots_collection
    on collection_report_snapshots (collection_id);
create index idx_collection_report_snapshots_created_by
    on collection_report_snapshots (created_by);
create index idx_collection_report_snapshots_config on collection_report_snapshots (config_id);
create index idx_collection_report_snapshots_public
    on collection_report_snapshots (is_public) where is_public = true;
-- defect 17: a sharing token must name one snapshot
create unique index idx_collection_report_snapshots_token
    on collection_report_snapshots (access_token) where access_token is not null;
create index idx_collection_report_snapshots_data
    on collection_report_snapshots using gin (snapshot_data);

-- ---------------------------------------------------------------------------------------------
-- Campaigns and products
-- ---------------------------------------------------------------------------------------------

create table campaigns (
    id uuid primary key default gen_random_uuid(),
    campaign_id text not null, -- Amazon's campaign id
    name text not null,
    campaign_type text not null, -- sponsoredProducts, sponsoredBrands, ...
    state text not null, -- ENABLED, PAUSED, ARCHIVED

    instance_id uuid not null references amc_instances (id) on delete cascade,
    user_id uuid not null references users (id) on delete cascade,

    impressions bigint default 0,
    clicks bigint default 0,
    spend decimal(10, 2) default 0,
    sales decimal(10, 2) default 0,
    -- defect 15: decimal(5,2) overflows past 999.99, e.g. an ACOS of 1,250 % when sales are small
    acos decimal(10, 2),
    roas decimal(10, 2),

    start_date date,
    end_date date,
    budget decimal(10, 2),
    budget_type text, -- DAILY, LIFETIME
    targeting_type text,
    portfolio_id text,

    last_sync_at timestamptz,
    performance_updated_at timestamptz,

    created_at timestamptz default now(),
    updated_at timestamptz default now(),

    -- defect 3
    constraint fk_campaign_user_instance foreign key (instance_id, user_id)
        references amc_instances (id, user_id) on delete cascade
);

create unique index idx_campaigns_campaign_id_instance on campaigns (campaign_id, instance_id);
create index idx_campaigns_instance_id on campaigns (instance_id);
create index idx_campaigns_user_id on campaigns (user_id);
create index idx_campaigns_state on campaigns (state);
create index idx_campaigns_type on campaigns (campaign_type);

create table asins (
    id uuid primary key default gen_random_uuid(),
    asin text not null,

    user_id uuid not null references users (id) on delete cascade,

    title text,
    brand text,
    category text,
    image_url text,
    price decimal(10, 2),

    sales_rank integer,
    review_count integer,
    average_rating decimal(2, 1),

    tags text[] default '{}',
    notes text,

    is_active boolean default true,
    parent_asin text,
    variation_theme text,

    dimensions jsonb,
    weight decimal(8, 3),

    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    last_validated_at timestamptz,

    -- defect 14: books carry their ISBN-10 as ASIN (0123456789, 080442957X); the document
    -- accepted only B-prefixed ASINs
    constraint chk_asin_format check (asin ~ '^(B[0-9A-Z]{9}|[0-9]{9}[0-9X])$')
);

create unique index idx_asins_asin_user on asins (asin, user_id);
create index idx_asins_user_id on asins (user_id);
create index idx_asins_brand on asins (brand) where brand is not null;
create index idx_asins_category on asins (category) where category is not null;
create index idx_asins_tags on asins using gin (tags);
create index idx_asins_active on asins (is_active) where is_active = true;

create table asin_lists (
    id uuid primary key default gen_random_uuid(),
    name text not null,
    description text,

    user_id uuid not null references users (id) on delete cascade,

    category text,
    tags text[] default '{}',
    is_public boolean default false,

    -- defect 13: maintained by trigger_maintain_asin_list_count
    asin_count integer not null default 0,

    created_at timestamptz default now(),
    updated_at timestamptz default now()
);

create index idx_asin_lists_user_id on asin_lists (user_id);
create index idx_asin_lists_category on asin_lists (category) where category is not null;
create index idx_asin_lists_public on asin_lists (is_public) where is_public = true;

create table asin_list_items (
    id uuid primary key default gen_random_uuid(),

    list_id uuid not null references asin_lists (id) on delete cascade,
    asin_id uuid not null references asins (id) on delete cascade,

    position integer not null default 0,
    notes text,

    added_at timestamptz default now(),
    added_by uuid references users (id) on delete set null
);

create unique index idx_asin_list_items_unique on asin_list_items (list_id, asin_id);
create index idx_asin_list_items_list_id on asin_list_items (list_id, position);

-- ---------------------------------------------------------------------------------------------
-- AMC data dictionary and build guides (reference data, shared by every user)
-- ---------------------------------------------------------------------------------------------

create table amc_data_sources (
    id uuid primary key default gen_random_uuid(),
    name text not null,
    display_name text not null,
    description text,
    category text not null,

    table_type text, -- fact, dimension
    data_freshness text,
    grain text,

    documentation_url text,
    example_queries text[],

    is_active boolean default true,
    deprecated_at timestamptz,

    created_at timestamptz default now(),
    updated_at timestamptz default now()
);

create unique index idx_amc_data_sources_name on amc_data_sources (name);
create index idx_amc_data_sources_category on amc_data_sources (category);
create index idx_amc_data_sources_active on amc_data_sources (is_active) where is_active = true;

create table amc_schema_fields (
    id uuid primary key default gen_random_uuid(),

    data_source_id uuid not null references amc_data_sources (id) on delete cascade,

    field_name text not null,
    data_type text not null, -- STRING, INTEGER, DECIMAL, DATE, TIMESTAMP
    description text,

    is_nullable boolean default true,
    is_primary_key boolean default false,
    is_foreign_key boolean default false,

    max_length integer,
    valid_values text[],

    examples text[],
    notes text,

    created_at timestamptz default now(),
    updated_at timestamptz default now()
);

create index idx_amc_schema_fields_data_source on amc_schema_fields (data_source_id);
create index idx_amc_schema_fields_name on amc_schema_fields (field_name);
create unique index idx_amc_schema_fields_unique on amc_schema_fields (data_source_id, field_name);

create table build_guides (
    id uuid primary key default gen_random_uuid(),
    title text not null,
    description text,
    category text not null,

    difficulty_level text, -- BEGINNER, INTERMEDIATE, ADVANCED
    estimated_time integer, -- minutes
    prerequisites text[],

    section_count integer default 0,
    query_count integer default 0,

    completion_count integer default 0,
    favorite_count integer default 0,

    is_published boolean default true,

    created_at timestamptz default now(),
    updated_at timestamptz default now()
);

create index idx_build_guides_category on build_guides (category);
create index idx_build_guides_difficulty on build_guides (difficulty_level);
create index idx_build_guides_published on build_guides (is_published) where is_published = true;

create table user_guide_progress (
    id uuid primary key default gen_random_uuid(),

    user_id uuid not null references users (id) on delete cascade,
    guide_id uuid not null references build_guides (id) on delete cascade,

    current_section integer default 1,
    completed_sections integer[] default '{}',
    -- defect 9
    progress_percentage decimal(5, 2) default 0
        constraint chk_guide_progress_percentage
        check (progress_percentage >= 0 and progress_percentage <= 100),

    status text not null default 'IN_PROGRESS'
        constraint chk_guide_progress_status
        check (status in ('NOT_STARTED', 'IN_PROGRESS', 'COMPLETED')),

    started_at timestamptz default now(),
    completed_at timestamptz,
    last_accessed_at timestamptz default now()
);

create unique index idx_user_guide_progress_unique on user_guide_progress (user_id, guide_id);
create index idx_user_guide_progress_user on user_guide_progress (user_id);
create index idx_user_guide_progress_guide on user_guide_progress (guide_id);

-- ---------------------------------------------------------------------------------------------
-- Performance indexes (from the document's "Critical Database Functions")
-- ---------------------------------------------------------------------------------------------

create index idx_workflow_executions_user_status on workflow_executions (user_id, status);
create index idx_campaigns_instance_type on campaigns (instance_id, campaign_type);
create index idx_data_weeks_collection_status on report_data_weeks (collection_id, status);
create index idx_schedules_active_next_run on workflow_schedules (next_run_at)
    where is_active = true;
create index idx_workflows_parameters on workflows using gin (parameters);
create index idx_executions_result_data on workflow_executions using gin (result_data);

-- ---------------------------------------------------------------------------------------------
-- Functions and triggers. Defect 22: they pin search_path so that a caller's search_path
-- (PostgREST's, or one that puts the results schema first) cannot redirect them.
-- ---------------------------------------------------------------------------------------------

-- Defect 11: updated_at was never maintained.
create function set_updated_at() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
    new.updated_at := now();
    return new;
end
$$;

do $$
declare
    table_name text;
begin
    foreach table_name in array array[
        'users', 'amc_accounts', 'amc_instances', 'query_templates',
        'query_template_parameters', 'query_template_reports', 'query_template_instances',
        'workflows', 'workflow_executions', 'workflow_schedules', 'report_data_collections',
        'report_data_weeks', 'collection_report_configs', 'collection_report_snapshots',
        'campaigns', 'asins', 'asin_lists', 'amc_data_sources', 'amc_schema_fields',
        'build_guides'
    ] loop
        execute format(
            'create trigger trigger_set_updated_at before update on %I '
            'for each row execute function set_updated_at()',
            table_name
        );
    end loop;
end
$$;

-- Defect 18: an execution inserted late (a backfill of older runs) moved last_executed_at back.
create function update_workflow_execution_count() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
    update workflows
    set last_executed_at = greatest(last_executed_at, new.created_at)
    where id = new.workflow_id;
    return new;
end
$$;

create trigger trigger_update_workflow_execution_count
    after insert on workflow_executions
    for each row
    execute function update_workflow_execution_count();

-- Defects 4 and 5: the document's version declared variables named like the columns it
-- updates ("column reference total_weeks is ambiguous" on the first week row), never counted
-- failed weeks, re-counted the whole collection for every row, and left the old collection
-- stale when a week moved. This one applies per-statement deltas from the transition tables:
-- `total_weeks = total_weeks + delta` also stays true when two transactions change weeks of
-- the same collection at once, where a re-count from each snapshot would lose one of them.
-- It never touches the collection's status, which belongs to the pipeline.
create function calculate_collection_progress() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
declare
    collection_ids uuid[];
    total_deltas integer[];
    completed_deltas integer[];
    failed_deltas integer[];
begin
    if tg_op = 'INSERT' then
        select array_agg(collection_id), array_agg(total), array_agg(completed),
               array_agg(failed)
        into collection_ids, total_deltas, completed_deltas, failed_deltas
        from (
            select collection_id,
                   count(*)::integer as total,
                   count(*) filter (where status = 'SUCCESS')::integer as completed,
                   count(*) filter (where status = 'FAILED')::integer as failed
            from new_weeks
            group by collection_id
        ) as inserted;
    elsif tg_op = 'DELETE' then
        select array_agg(collection_id), array_agg(total), array_agg(completed),
               array_agg(failed)
        into collection_ids, total_deltas, completed_deltas, failed_deltas
        from (
            select collection_id,
                   -count(*)::integer as total,
                   -count(*) filter (where status = 'SUCCESS')::integer as completed,
                   -count(*) filter (where status = 'FAILED')::integer as failed
            from old_weeks
            group by collection_id
        ) as deleted;
    else
        select array_agg(collection_id), array_agg(total), array_agg(completed),
               array_agg(failed)
        into collection_ids, total_deltas, completed_deltas, failed_deltas
        from (
            select collection_id,
                   sum(sign)::integer as total,
                   sum(sign) filter (where status = 'SUCCESS')::integer as completed,
                   sum(sign) filter (where status = 'FAILED')::integer as failed
            from (
                select collection_id, status, 1 as sign from new_weeks
                union all
                select collection_id, status, -1 as sign from old_weeks
            ) as changes
            group by collection_id
        ) as updated;
    end if;

    if collection_ids is null then
        return null;
    end if;

    update report_data_collections as c
    set total_weeks = c.total_weeks + d.total,
        completed_weeks = c.completed_weeks + d.completed,
        failed_weeks = c.failed_weeks + d.failed,
        progress_percentage = case
            when c.total_weeks + d.total > 0
                then round((c.completed_weeks + d.completed) * 100.0 / (c.total_weeks + d.total), 2)
            else 0
        end
    from (
        select collection_id, total, coalesce(completed, 0) as completed,
               coalesce(failed, 0) as failed
        from unnest(collection_ids, total_deltas, completed_deltas, failed_deltas)
            as u (collection_id, total, completed, failed)
    ) as d
    where c.id = d.collection_id
      and (d.total <> 0 or d.completed <> 0 or d.failed <> 0);

    return null;
end
$$;

-- PostgreSQL allows transition tables only on single-event triggers, hence three triggers.
create trigger trigger_calculate_collection_progress_insert
    after insert on report_data_weeks
    referencing new table as new_weeks
    for each statement
    execute function calculate_collection_progress();

create trigger trigger_calculate_collection_progress_update
    after update on report_data_weeks
    referencing old table as old_weeks new table as new_weeks
    for each statement
    execute function calculate_collection_progress();

create trigger trigger_calculate_collection_progress_delete
    after delete on report_data_weeks
    referencing old table as old_weeks
    for each statement
    execute function calculate_collection_progress();

-- TRUNCATE fires no row or transition-table trigger: every collection is left without weeks.
create function reset_collection_progress() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
    update report_data_collections
    set total_weeks = 0, completed_weeks = 0, failed_weeks = 0, progress_percentage = 0
    where total_weeks <> 0;
    return null;
end
$$;

create trigger trigger_reset_collection_progress
    after truncate on report_data_weeks
    for each statement
    execute function reset_collection_progress();

-- The counters are derived from report_data_weeks. A new collection has no weeks yet (whatever
-- the insert says, which also makes a data-only restore come out right); a direct UPDATE
-- that changes them would make them false for good, so it is refused. The progress trigger
-- writes them from inside a trigger (pg_trigger_depth() > 1).
create function protect_collection_progress() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
    if tg_op = 'INSERT' then
        new.total_weeks := 0;
        new.completed_weeks := 0;
        new.failed_weeks := 0;
        new.progress_percentage := 0;
    elsif pg_trigger_depth() = 1 and (
        new.total_weeks is distinct from old.total_weeks
        or new.completed_weeks is distinct from old.completed_weeks
        or new.failed_weeks is distinct from old.failed_weeks
        or new.progress_percentage is distinct from old.progress_percentage
    ) then
        raise exception
            'report_data_collections %: total_weeks, completed_weeks, failed_weeks and '
            'progress_percentage are derived from report_data_weeks and cannot be set directly',
            old.id
            using errcode = 'check_violation';
    end if;
    return new;
end
$$;

create trigger trigger_protect_collection_progress
    before insert or update on report_data_collections
    for each row
    execute function protect_collection_progress();

-- Defect 13: asin_count was a cache that nothing maintained.
create function maintain_asin_list_count() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
    if tg_op in ('DELETE', 'UPDATE') then
        update asin_lists set asin_count = asin_count - 1 where id = old.list_id;
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        update asin_lists set asin_count = asin_count + 1 where id = new.list_id;
    end if;
    return null;
end
$$;

create trigger trigger_maintain_asin_list_count
    after insert or delete or update of list_id on asin_list_items
    for each row
    execute function maintain_asin_list_count();

-- Defect 19: with a negative previous value, the change had the wrong sign (-100 -> -50 was
-- reported as -50 %).
create function calculate_week_over_week_change(
    current_week_data jsonb,
    previous_week_data jsonb,
    metric_name text
) returns jsonb
language plpgsql
immutable
set search_path = public, pg_temp
as $$
declare
    current_value numeric;
    previous_value numeric;
    absolute_change numeric;
    percentage_change numeric;
begin
    current_value := coalesce((current_week_data ->> metric_name)::numeric, 0);
    previous_value := coalesce((previous_week_data ->> metric_name)::numeric, 0);
    absolute_change := current_value - previous_value;

    if previous_value = 0 then
        -- no change is 0 %; any change from zero has no finite percentage
        percentage_change := case when current_value = 0 then 0 end;
    else
        percentage_change := absolute_change / abs(previous_value) * 100;
    end if;

    return jsonb_build_object(
        'metric', metric_name,
        'current_value', current_value,
        'previous_value', previous_value,
        'absolute_change', absolute_change,
        'percentage_change', percentage_change
    );
end
$$;

-- Defect 6: the document's loop called jsonb_concat_avg/min/max, which it never defined (and a
-- pairwise running average is not an average). One aggregate per metric, over the successful
-- weeks of the range; non-numeric entries are ignored, as the document's helper ignored them.
create function aggregate_collection_weeks(
    collection_id_param uuid,
    start_date_param date,
    end_date_param date,
    aggregation_method text default 'sum'
) returns jsonb
language plpgsql
stable
set search_path = public, pg_temp
as $$
declare
    method text := lower(aggregation_method);
    aggregated jsonb;
begin
    if method is null or method not in ('sum', 'avg', 'min', 'max') then
        raise exception 'aggregation_method % is not one of sum, avg, min, max',
            coalesce(quote_literal(aggregation_method), 'NULL')
            using errcode = 'invalid_parameter_value';
    end if;

    select coalesce(jsonb_object_agg(metric, value), '{}'::jsonb)
    into aggregated
    from (
        select stat.key as metric,
               case method
                   when 'sum' then sum(stat.value::text::numeric)
                   when 'avg' then avg(stat.value::text::numeric)
                   when 'min' then min(stat.value::text::numeric)
                   when 'max' then max(stat.value::text::numeric)
               end as value
        from report_data_weeks as w
        cross join lateral jsonb_each(w.summary_stats) as stat
        where w.collection_id = collection_id_param
          and w.week_start_date >= start_date_param
          and w.week_end_date <= end_date_param
          and w.status = 'SUCCESS'
          and jsonb_typeof(w.summary_stats) = 'object'
          and jsonb_typeof(stat.value) = 'number'
        group by stat.key
    ) as per_metric;

    return aggregated;
end
$$;

create function jsonb_concat_sum(a jsonb, b jsonb) returns jsonb
language plpgsql
immutable
set search_path = public, pg_temp
as $$
declare
    key text;
    result jsonb := coalesce(a, '{}'::jsonb);
begin
    for key in select jsonb_object_keys(coalesce(b, '{}'::jsonb)) loop
        if jsonb_typeof(b -> key) = 'number' then
            result := result || jsonb_build_object(
                key, coalesce((result ->> key)::numeric, 0) + (b ->> key)::numeric
            );
        end if;
    end loop;
    return result;
end
$$;

-- Defect 7: without security_invoker the view runs as its owner and shows every user's
-- collections to everyone.
create view collection_report_summary with (security_invoker = true) as
select
    c.id as collection_id,
    c.name,
    c.status,
    c.start_date,
    c.end_date,
    c.total_weeks,
    c.completed_weeks,
    c.progress_percentage,
    c.report_metadata,
    c.last_report_generated_at,

    count(w.id) as actual_week_count,
    count(case when w.status = 'SUCCESS' then 1 end) as successful_weeks,
    count(case when w.status = 'FAILED' then 1 end) as failed_weeks,
    count(case when w.status = 'PENDING' then 1 end) as pending_weeks,

    avg(w.execution_duration) as avg_execution_duration,
    sum(w.result_rows) as total_result_rows,
    sum(w.result_size_bytes) as total_result_size_bytes,

    min(w.week_start_date) as earliest_week_start,
    max(w.week_end_date) as latest_week_end,

    c.created_at,
    c.updated_at
from report_data_collections as c
left join report_data_weeks as w on w.collection_id = c.id
group by c.id;

-- ---------------------------------------------------------------------------------------------
-- Row-level security. The document enabled it on some tables only (users, with their tokens,
-- had none: defect 8; reference tables were writable by all: defect 26), enabled it without
-- any policy on others, hiding their owners' rows (campaigns, query_template_*: defect 23), and
-- its OR-ed FOR ALL policies let a user write rows of others (defects 24 and 25).
-- Policies are for `authenticated`; the pipeline connects as the owner, to which RLS does not
-- apply (it is not forced). Policy subqueries read the other tables through their own RLS.
-- ---------------------------------------------------------------------------------------------

alter table users enable row level security;
alter table amc_accounts enable row level security;
alter table amc_instances enable row level security;
alter table query_templates enable row level security;
alter table query_template_parameters enable row level security;
alter table query_template_reports enable row level security;
alter table query_template_instances enable row level security;
alter table workflows enable row level security;
alter table workflow_executions enable row level security;
alter table workflow_schedules enable row level security;
alter table schedule_runs enable row level security;
alter table report_data_collections enable row level security;
alter table report_data_weeks enable row level security;
alter table collection_report_configs enable row level security;
alter table collection_report_snapshots enable row level security;
alter table campaigns enable row level security;
alter table asins enable row level security;
alter table asin_lists enable row level security;
alter table asin_list_items enable row level security;
alter table amc_data_sources enable row level security;
alter table amc_schema_fields enable row level security;
alter table build_guides enable row level security;
alter table user_guide_progress enable row level security;

-- A user reads and edits their own row; accounts are created by the pipeline.
create policy users_select_own on users for select to authenticated
    using (id = (select auth.uid()));
create policy users_update_own on users for update to authenticated
    using (id = (select auth.uid()))
    with check (id = (select auth.uid()));

-- Accounts are shared by instances and written by the pipeline: visible through one's instances.
create policy amc_accounts_select_via_instance on amc_accounts for select to authenticated
    using (exists (
        select 1 from amc_instances as i
        where i.account_id = amc_accounts.id and i.user_id = (select auth.uid())
    ));

create policy instances_user_access on amc_instances for all to authenticated
    using (user_id = (select auth.uid()))
    with check (user_id = (select auth.uid()));

create policy workflows_user_access on workflows for all to authenticated
    using (user_id = (select auth.uid()))
    with check (
        user_id = (select auth.uid())
        and (template_id is null or exists (
            select 1 from query_templates as t where t.id = workflows.template_id
        ))
    );

create policy executions_user_access on workflow_executions for all to authenticated
    using (user_id = (select auth.uid()))
    with check (user_id = (select auth.uid()));

create policy schedules_user_access on workflow_schedules for all to authenticated
    using (user_id = (select auth.uid()))
    with check (user_id = (select auth.uid()));

create policy schedule_runs_user_access on schedule_runs for all to authenticated
    using (exists (
        select 1 from workflow_schedules as s
        where s.id = schedule_runs.schedule_id and s.user_id = (select auth.uid())
    ))
    with check (
        exists (
            select 1 from workflow_schedules as s
            where s.id = schedule_runs.schedule_id and s.user_id = (select auth.uid())
        )
        and (schedule_runs.execution_id is null or exists (
            select 1 from workflow_executions as e
            where e.id = schedule_runs.execution_id and e.user_id = (select auth.uid())
        ))
    );

create policy collections_user_access on report_data_collections for all to authenticated
    using (user_id = (select auth.uid()))
    with check (user_id = (select auth.uid()));

create policy weeks_user_access on report_data_weeks for all to authenticated
    using (exists (
        select 1 from report_data_collections as c
        where c.id = report_data_weeks.collection_id and c.user_id = (select auth.uid())
    ))
    with check (
        exists (
            select 1 from report_data_collections as c
            where c.id = report_data_weeks.collection_id and c.user_id = (select auth.uid())
        )
        and (report_data_weeks.execution_id is null or exists (
            select 1 from workflow_executions as e
            where e.id = report_data_weeks.execution_id and e.user_id = (select auth.uid())
        ))
        and (report_data_weeks.workflow_execution_id is null or exists (
            select 1 from workflow_executions as e
            where e.id = report_data_weeks.workflow_execution_id
              and e.user_id = (select auth.uid())
        ))
    );

-- The owner writes; users in shared_with_users read, and only while the config is shared.
create policy collection_report_configs_user_access on collection_report_configs
    for all to authenticated
    using (user_id = (select auth.uid()))
    with check (user_id = (select auth.uid()));
create policy collection_report_configs_shared_read on collection_report_configs
    for select to authenticated
    using (is_shared and (select auth.uid()) = any (shared_with_users));

-- The creator writes; everyone signed in reads unexpired public snapshots; a user reads the
-- snapshots of configurations shared with them.
create policy collection_report_snapshots_access on collection_report_snapshots
    for select to authenticated
    using (
        created_by = (select auth.uid())
        or (is_public and (expires_at is null or expires_at > now()))
        or exists (
            select 1 from collection_report_configs as cfg
            where cfg.id = collection_report_snapshots.config_id
              and (cfg.user_id = (select auth.uid())
                   or (cfg.is_shared and (select auth.uid()) = any (cfg.shared_with_users)))
        )
    );
create policy collection_report_snapshots_create on collection_report_snapshots
    for insert to authenticated
    with check (
        created_by = (select auth.uid())
        and exists (
            select 1 from report_data_collections as c
            where c.id = collection_report_snapshots.collection_id
              and c.user_id = (select auth.uid())
        )
        and (collection_report_snapshots.config_id is null or exists (
            select 1 from collection_report_configs as cfg
            where cfg.id = collection_report_snapshots.config_id
              and cfg.user_id = (select auth.uid())
        ))
    );
create policy collection_report_snapshots_update on collection_report_snapshots
    for update to authenticated
    using (created_by = (select auth.uid()))
    with check (
        created_by = (select auth.uid())
        and exists (
            select 1 from report_data_collections as c
            where c.id = collection_report_snapshots.collection_id
              and c.user_id = (select auth.uid())
        )
        and (collection_report_snapshots.config_id is null or exists (
            select 1 from collection_report_configs as cfg
            where cfg.id = collection_report_snapshots.config_id
              and cfg.user_id = (select auth.uid())
        ))
    );
create policy collection_report_snapshots_delete on collection_report_snapshots
    for delete to authenticated
    using (created_by = (select auth.uid()));

create policy campaigns_user_access on campaigns for all to authenticated
    using (user_id = (select auth.uid()))
    with check (user_id = (select auth.uid()));

create policy asins_user_access on asins for all to authenticated
    using (user_id = (select auth.uid()))
    with check (user_id = (select auth.uid()));

create policy asin_lists_user_access on asin_lists for all to authenticated
    using (user_id = (select auth.uid()))
    with check (user_id = (select auth.uid()));
create policy asin_lists_public_read on asin_lists for select to authenticated
    using (is_public);

create policy asin_list_items_read on asin_list_items for select to authenticated
    using (exists (select 1 from asin_lists as l where l.id = asin_list_items.list_id));
create policy asin_list_items_owner_write on asin_list_items for all to authenticated
    using (exists (
        select 1 from asin_lists as l
        where l.id = asin_list_items.list_id and l.user_id = (select auth.uid())
    ))
    with check (
        exists (
            select 1 from asin_lists as l
            where l.id = asin_list_items.list_id and l.user_id = (select auth.uid())
        )
        and exists (
            select 1 from asins as a
            where a.id = asin_list_items.asin_id and a.user_id = (select auth.uid())
        )
        and (asin_list_items.added_by is null or asin_list_items.added_by = (select auth.uid()))
    );

-- Templates: public and official ones are readable by all; users write their own, and cannot
-- mark them official (official templates are installed by the pipeline).
create policy query_templates_read on query_templates for select to authenticated
    using (is_public or is_official or author_id = (select auth.uid()));
create policy query_templates_author_write on query_templates for all to authenticated
    using (author_id = (select auth.uid()))
    with check (author_id = (select auth.uid()) and is_official is not true);

create policy query_template_parameters_read on query_template_parameters
    for select to authenticated
    using (exists (
        select 1 from query_templates as t where t.id = query_template_parameters.template_id
    ));
create policy query_template_parameters_author_write on query_template_parameters
    for all to authenticated
    using (exists (
        select 1 from query_templates as t
        where t.id = query_template_parameters.template_id and t.author_id = (select auth.uid())
    ))
    with check (exists (
        select 1 from query_templates as t
        where t.id = query_template_parameters.template_id and t.author_id = (select auth.uid())
    ));

create policy query_template_reports_read on query_template_reports for select to authenticated
    using (exists (
        select 1 from query_templates as t where t.id = query_template_reports.template_id
    ));
create policy query_template_reports_author_write on query_template_reports
    for all to authenticated
    using (exists (
        select 1 from query_templates as t
        where t.id = query_template_reports.template_id and t.author_id = (select auth.uid())
    ))
    with check (exists (
        select 1 from query_templates as t
        where t.id = query_template_reports.template_id and t.author_id = (select auth.uid())
    ));

create policy query_template_instances_user_access on query_template_instances
    for all to authenticated
    using (user_id = (select auth.uid()))
    with check (
        user_id = (select auth.uid())
        and exists (
            select 1 from query_templates as t where t.id = query_template_instances.template_id
        )
    );

create policy amc_data_sources_read on amc_data_sources for select to authenticated
    using (true);
create policy amc_schema_fields_read on amc_schema_fields for select to authenticated
    using (true);
create policy build_guides_read_published on build_guides for select to authenticated
    using (is_published);

create policy user_guide_progress_user_access on user_guide_progress for all to authenticated
    using (user_id = (select auth.uid()))
    with check (
        user_id = (select auth.uid())
        and exists (select 1 from build_guides as g where g.id = user_guide_progress.guide_id)
    );

-- Privileges of signed-in users; the policies above decide which rows.
grant usage on schema public to authenticated;
grant select, update on users to authenticated;
grant select on amc_accounts, amc_data_sources, amc_schema_fields, build_guides
    to authenticated;
grant select, insert, update, delete on
    amc_instances, query_templates, query_template_parameters, query_template_reports,
    query_template_instances, workflows, workflow_executions, workflow_schedules, schedule_runs,
    report_data_collections, report_data_weeks, collection_report_configs,
    collection_report_snapshots, campaigns, asins, asin_lists, asin_list_items,
    user_guide_progress
    to authenticated;
grant select on collection_report_summary to authenticated;
