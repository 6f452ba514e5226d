-- AMC's concurrency limits as AMC counts them, and the pipeline's columns out of users' reach.
--
-- AMC runs at most 10 executions at once per instance and 200 per account, whoever submits
-- them. An instance is known by AMC's own id (amc_instances.instance_id): two users with rows
-- for the same AMC instance share its slots, and every instance of an account shares the
-- account's. Slots are therefore numbered per AMC instance id and counted per account.
--
-- Signed-in users (those to whom row-level security applies) could set their instance's
-- max_concurrent_executions to anything and write what the pipeline records of their weeks,
-- executions and schedules (statuses, checksums, heartbeats): a trigger now refuses that, by
-- column, while what users set themselves stays editable.
-- depends: 0014_slots_first_come_first_served

-- ---------------------------------------------------------------------------------------------
-- The limits: within AMC's own, set by the pipeline (users cannot write them, see below).
-- ---------------------------------------------------------------------------------------------

update amc_instances set max_concurrent_executions = 10 where max_concurrent_executions > 10;

alter table amc_instances
    add constraint chk_instance_max_concurrent_executions_within_amc
        check (max_concurrent_executions <= 10);

comment on column amc_instances.max_concurrent_executions is
    'Executions in flight at once on this AMC instance (1-10, AMC''s limit). Rows of several '
    'users for one AMC instance share its slots; the lowest of their limits applies';

alter table amc_accounts
    add column max_concurrent_executions integer not null default 200
        constraint chk_account_max_concurrent_executions
        check (max_concurrent_executions between 1 and 200);

comment on column amc_accounts.max_concurrent_executions is
    'Executions in flight at once across all instances of this AMC account (1-200, AMC''s limit)';

-- ---------------------------------------------------------------------------------------------
-- Slots numbered per AMC instance id, counted per account.
-- ---------------------------------------------------------------------------------------------

-- The old check knows nothing of the new columns; it comes back below in its new form.
drop trigger trigger_check_amc_instance_slot on amc_instance_slots;

alter table amc_instance_slots
    drop constraint amc_instance_slots_pkey,
    add column amc_instance_id text,
    add column account_id uuid references amc_accounts (id) on delete cascade;

comment on column amc_instance_slots.instance_id is
    'The amc_instances row through which the slot was claimed';
comment on column amc_instance_slots.amc_instance_id is
    'AMC''s instance id: slots are numbered per AMC instance, whoever''s row claimed them';

-- Slots held now keep their executions; rows of one AMC instance get distinct numbers. Slots
-- beyond the limit (two users held 10 + 10) stay until released: no claim succeeds meanwhile.
update amc_instance_slots as s
set
    amc_instance_id = renumbered.amc_instance_id,
    account_id = renumbered.account_id,
    slot = renumbered.slot
from (
    select
        held.execution_id,
        i.instance_id as amc_instance_id,
        i.account_id,
        row_number() over (
            partition by i.instance_id order by held.acquired_at, held.execution_id
        ) as slot
    from amc_instance_slots as held
    inner join amc_instances as i on i.id = held.instance_id
) as renumbered
where renumbered.execution_id = s.execution_id;

alter table amc_instance_slots
    alter column amc_instance_id set not null,
    alter column account_id set not null,
    add primary key (amc_instance_id, slot);

create index idx_amc_instance_slots_account_id on amc_instance_slots (account_id);
create index idx_amc_instance_slots_instance_id on amc_instance_slots (instance_id);

-- The slot limit of an AMC instance: the lowest of the limits of the rows that name it.
create function amc_instance_slot_limit(p_amc_instance_id text) returns integer
language sql
stable
set search_path = public, pg_temp
as $$
    select min(max_concurrent_executions) from amc_instances where instance_id = p_amc_instance_id
$$;

-- A slot's AMC instance and account are those of the row it is claimed through, whatever the
-- insert says; its number is within the instance's limit and the account has room for it.
create or replace function check_amc_instance_slot() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
declare
    slot_limit integer;
    account_limit integer;
    account_held integer;
begin
    select i.instance_id, i.account_id into new.amc_instance_id, new.account_id
    from amc_instances as i where i.id = new.instance_id;
    if not found then
        raise exception 'AMC instance % does not exist', new.instance_id
            using errcode = 'foreign_key_violation';
    end if;

    slot_limit := amc_instance_slot_limit(new.amc_instance_id);
    if new.slot > slot_limit then
        raise exception 'slot % of AMC instance % is beyond its max_concurrent_executions (%)',
            new.slot, new.amc_instance_id, slot_limit
            using errcode = 'check_violation';
    end if;

    select a.max_concurrent_executions into account_limit
    from amc_accounts as a where a.id = new.account_id;
    select count(*) into account_held
    from amc_instance_slots as s
    where s.account_id = new.account_id and s.execution_id <> new.execution_id;
    if account_held >= account_limit then
        raise exception 'AMC account % already has % executions in flight, its '
            'max_concurrent_executions', new.account_id, account_held
            using errcode = 'check_violation';
    end if;
    return new;
end
$$;

create trigger trigger_check_amc_instance_slot
    before insert or update on amc_instance_slots
    for each row
    execute function check_amc_instance_slot();

-- Same signature and answer as before (the slot held, or NULL: wait and try again); the limits
-- are now the AMC instance's and the account's, and first come first served holds across the
-- users of an instance and the instances of an account.
create or replace function claim_amc_instance_slot(p_instance_id uuid, p_execution_id uuid)
returns integer
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_amc_instance_id text;
    v_account_id uuid;
    instance_limit integer;
    account_limit integer;
    execution_status text;
    waiting_since timestamptz;
    instance_held integer;
    account_held integer;
    ahead_on_instance integer;
    ahead_in_account integer;
    chosen integer;
begin
    select i.instance_id, i.account_id into v_amc_instance_id, v_account_id
    from amc_instances as i where i.id = p_instance_id;
    if not found then
        raise exception 'AMC instance % does not exist', p_instance_id
            using errcode = 'foreign_key_violation';
    end if;

    -- Claims of one account are serialised by a lock on its row, and claims of one AMC
    -- instance by an advisory lock (should rows of one instance name different accounts).
    select a.max_concurrent_executions into account_limit
    from amc_accounts as a where a.id = v_account_id
    for no key update;
    perform pg_advisory_xact_lock(15, hashtext(v_amc_instance_id));
    instance_limit := amc_instance_slot_limit(v_amc_instance_id);

    select status, created_at into execution_status, waiting_since
    from workflow_executions where id = p_execution_id;
    if not found then
        raise exception 'workflow execution % does not exist', p_execution_id
            using errcode = 'foreign_key_violation';
    end if;
    if execution_status not in ('PENDING', 'RUNNING') then
        raise exception 'workflow execution % is %, not PENDING or RUNNING: it needs no slot',
            p_execution_id, execution_status
            using errcode = 'invalid_parameter_value';
    end if;

    select s.slot into chosen
    from amc_instance_slots as s
    where s.execution_id = p_execution_id and s.amc_instance_id = v_amc_instance_id;
    if found then
        return chosen;
    end if;

    select count(*) into instance_held
    from amc_instance_slots as s where s.amc_instance_id = v_amc_instance_id;
    select count(*) into account_held
    from amc_instance_slots as s where s.account_id = v_account_id;
    if instance_held >= instance_limit or account_held >= account_limit then
        return null;
    end if;

    -- Live waiters of the account ahead of this one (90 seconds without a heartbeat: the
    -- process is gone). Those of this AMC instance compete for its free slots; those of every
    -- instance compete for the account's, as far as their own instance has room.
    with ahead as (
        select wi.instance_id as amc_instance_id, count(*) as waiting
        from workflow_executions as waiter
        inner join amc_instances as wi on wi.id = waiter.instance_id
        where wi.account_id = v_account_id
            and waiter.status = 'PENDING'
            and waiter.amc_execution_id is null
            and waiter.heartbeat_at > now() - interval '90 seconds'
            and (waiter.created_at, waiter.id) < (waiting_since, p_execution_id)
            and not exists (
                select 1 from amc_instance_slots as s where s.execution_id = waiter.id
            )
        group by wi.instance_id
    ),

    room as (
        select
            ahead.amc_instance_id,
            ahead.waiting,
            greatest(
                amc_instance_slot_limit(ahead.amc_instance_id) - (
                    select count(*) from amc_instance_slots as s
                    where s.amc_instance_id = ahead.amc_instance_id
                ),
                0
            ) as free
        from ahead
    )

    select
        coalesce(sum(room.waiting) filter (where room.amc_instance_id = v_amc_instance_id), 0),
        coalesce(sum(least(room.waiting, room.free)), 0)
    into ahead_on_instance, ahead_in_account
    from room;

    if ahead_on_instance >= instance_limit - instance_held
        or ahead_in_account >= account_limit - account_held then
        return null;
    end if;

    select candidate into chosen
    from generate_series(1, instance_limit) as candidate
    where not exists (
        select 1 from amc_instance_slots as s
        where s.amc_instance_id = v_amc_instance_id and s.slot = candidate
    )
    order by candidate
    limit 1;

    insert into amc_instance_slots (instance_id, slot, execution_id)
    values (p_instance_id, chosen, p_execution_id);
    return chosen;
end
$$;

revoke execute on function claim_amc_instance_slot(uuid, uuid) from public;
revoke execute on function amc_instance_slot_limit(text) from public;

-- The pipeline's tables stay out of reach even where default privileges granted them (Supabase).
revoke all on amc_instance_slots, schedule_tick_claims from authenticated;
grant select on schedule_tick_claims to authenticated;

-- ---------------------------------------------------------------------------------------------
-- The pipeline's columns. A signed-in user may not change them, nor give them a value other
-- than their default on a row of their own; writing the same value back is fine (a client
-- that sends the whole row). The pipeline connects as the owner, to which RLS does not apply:
-- row_security_active() tells the two apart.
-- ---------------------------------------------------------------------------------------------

create function refuse_user_writes_of_pipeline_columns() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
declare
    column_name text;
    given jsonb;
    allowed jsonb;
    default_expression text;
begin
    if not row_security_active(tg_relid) then
        return new;
    end if;
    given := to_jsonb(new);
    foreach column_name in array tg_argv loop
        if tg_op = 'UPDATE' then
            allowed := to_jsonb(old) -> column_name;
        else
            select pg_get_expr(d.adbin, d.adrelid) into default_expression
            from pg_attribute as a
            left join pg_attrdef as d on d.adrelid = a.attrelid and d.adnum = a.attnum
            where a.attrelid = tg_relid and a.attname = column_name;
            if default_expression is null then
                allowed := 'null'::jsonb;
            else
                execute format('select to_jsonb(%s)', default_expression) into allowed;
            end if;
        end if;
        if (given -> column_name) is distinct from allowed then
            raise exception '%.% is written by the pipeline: a signed-in user cannot % it '
                '(% given, % expected)',
                tg_table_name, column_name,
                case tg_op when 'UPDATE' then 'change' else 'set' end,
                coalesce(given ->> column_name, 'null'), coalesce(allowed #>> '{}', 'null')
                using errcode = 'insufficient_privilege',
                    hint = 'leave the column out; the pipeline maintains it';
        end if;
    end loop;
    return new;
end
$$;

create trigger trigger_protect_pipeline_columns
    before insert or update on amc_instances
    for each row
    execute function refuse_user_writes_of_pipeline_columns(
        'max_concurrent_executions', 'health_status', 'health_error', 'last_health_check'
    );

create trigger trigger_protect_pipeline_columns
    before insert or update on workflow_executions
    for each row
    execute function refuse_user_writes_of_pipeline_columns(
        'status', 'amc_execution_id', 'amc_status', 'amc_workflow_id', 'heartbeat_at',
        'dagster_run_id', 'submitted_at', 'started_at', 'completed_at', 'result_data',
        'result_rows', 'result_size_bytes', 'result_location', 'execution_duration',
        'error_message', 'error_type', 'retry_count', 'sql_hash'
    );

create trigger trigger_protect_pipeline_columns
    before insert or update on report_data_weeks
    for each row
    execute function refuse_user_writes_of_pipeline_columns(
        'status', 'execution_id', 'workflow_execution_id', 'amc_execution_id', 'error_message',
        'retry_count', 'execution_duration', 'result_rows', 'result_size_bytes', 'summary_stats',
        'data_checksum', 'result_location', 'refreshed_at', 'started_at', 'completed_at'
    );

create trigger trigger_protect_pipeline_columns
    before insert or update on report_data_collections
    for each row
    execute function refuse_user_writes_of_pipeline_columns(
        'partition_key', 'registered_start_date', 'registered_end_date'
    );

create trigger trigger_protect_pipeline_columns
    before insert or update on workflow_schedules
    for each row
    execute function refuse_user_writes_of_pipeline_columns(
        'total_runs', 'successful_runs', 'failed_runs', 'last_run_at', 'last_run_status',
        'consecutive_failures', 'last_error'
    );

create trigger trigger_protect_pipeline_columns
    before insert or update on schedule_runs
    for each row
    execute function refuse_user_writes_of_pipeline_columns(
        'status', 'execution_id', 'error_message', 'duration_seconds', 'run_number',
        'scheduled_at', 'started_at', 'completed_at', 'dagster_run_id', 'lateness_seconds',
        'window_start', 'window_end', 'result_location'
    );

-- An execution in flight holds an AMC slot: deleting it would free the slot while AMC still
-- runs the execution.
create function refuse_user_deletes_of_executions_in_flight() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
    if row_security_active(tg_relid) and old.status in ('PENDING', 'RUNNING') then
        raise exception 'workflow execution % is %: the pipeline ends it before it can be deleted',
            old.id, old.status
            using errcode = 'insufficient_privilege';
    end if;
    return old;
end
$$;

create trigger trigger_refuse_deletes_of_executions_in_flight
    before delete on workflow_executions
    for each row
    execute function refuse_user_deletes_of_executions_in_flight();
