-- A cross-process gate: never more than max_concurrent_executions AMC executions in flight per
-- instance, however many pipeline processes submit. An execution holds one numbered slot of
-- its instance from before submission until it reaches a terminal status; the primary key
-- (instance_id, slot) and the slot bound make the limit a property of the data.
-- depends: 0004_schedules

alter table amc_instances
    add column max_concurrent_executions integer not null default 10
        constraint chk_instance_max_concurrent_executions
        check (max_concurrent_executions > 0);

comment on column amc_instances.max_concurrent_executions is
    'AMC runs at most 10 executions at once per instance and queues the rest';

create table amc_instance_slots (
    instance_id uuid not null references amc_instances (id) on delete cascade,
    slot integer not null constraint chk_amc_instance_slot_number check (slot >= 1),
    execution_id uuid not null unique references workflow_executions (id) on delete cascade,
    acquired_at timestamptz not null default now(),
    primary key (instance_id, slot)
);

-- The pipeline's table: row-level security without a policy keeps signed-in users out.
alter table amc_instance_slots enable row level security;

create function check_amc_instance_slot() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
declare
    slot_limit integer;
begin
    select max_concurrent_executions into slot_limit from amc_instances where id = new.instance_id;
    if new.slot > slot_limit then
        raise exception 'slot % of AMC instance % is beyond its max_concurrent_executions (%)',
            new.slot, new.instance_id, slot_limit
            using errcode = 'check_violation';
    end if;
    return new;
end
$$;

create trigger trigger_check_amc_instance_slot
    before insert or update on amc_instance_slots
    for each row
    execute function check_amc_instance_slot();

-- Returns the slot now held by the execution, or NULL when every slot of the instance is taken
-- (the caller waits and tries again). Claims for one instance are serialised by a lock on its
-- row, so two processes never pick the same free slot.
create function claim_amc_instance_slot(p_instance_id uuid, p_execution_id uuid)
returns integer
language plpgsql
set search_path = public, pg_temp
as $$
declare
    slot_limit integer;
    execution_status text;
    chosen integer;
begin
    select max_concurrent_executions into slot_limit
    from amc_instances where id = p_instance_id
    for no key update;
    if not found then
        raise exception 'AMC instance % does not exist', p_instance_id
            using errcode = 'foreign_key_violation';
    end if;

    select status into execution_status from workflow_executions where id = p_execution_id;
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
    where s.execution_id = p_execution_id and s.instance_id = p_instance_id;
    if found then
        return chosen;
    end if;

    select candidate into chosen
    from generate_series(1, slot_limit) as candidate
    where not exists (
        select 1 from amc_instance_slots as s
        where s.instance_id = p_instance_id and s.slot = candidate
    )
    order by candidate
    limit 1;
    if chosen is null then
        return null;
    end if;

    insert into amc_instance_slots (instance_id, slot, execution_id)
    values (p_instance_id, chosen, p_execution_id);
    return chosen;
end
$$;

create function release_amc_instance_slot(p_execution_id uuid) returns boolean
language sql
set search_path = public, pg_temp
as $$
    with released as (
        delete from amc_instance_slots where execution_id = p_execution_id returning 1
    )
    select exists (select 1 from released)
$$;

-- A finished execution gives its slot back even if its process died before releasing it.
create function release_slot_of_finished_execution() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
    delete from amc_instance_slots where execution_id = new.id;
    return null;
end
$$;

create trigger trigger_release_slot_of_finished_execution
    after update of status on workflow_executions
    for each row
    when (new.status not in ('PENDING', 'RUNNING'))
    execute function release_slot_of_finished_execution();

revoke execute on function claim_amc_instance_slot(uuid, uuid) from public;
revoke execute on function release_amc_instance_slot(uuid) from public;
