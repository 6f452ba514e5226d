-- AMC slots go to the executions that have waited longest. A free slot is refused to an
-- execution while as many live waiters of the same instance as there are free slots came
-- before it; a waiter is live while its process keeps its heartbeat fresh, so one that died
-- stops holding its place after 90 seconds. A released slot is announced on the channel
-- amc_instance_slots (payload: the instance id), so that waiters claim it at once instead of
-- at their next look.
-- depends: 0013_load_weeks_in_place

create or replace function claim_amc_instance_slot(p_instance_id uuid, p_execution_id uuid)
returns integer
language plpgsql
set search_path = public, pg_temp
as $$
declare
    slot_limit integer;
    execution_status text;
    waiting_since timestamptz;
    held integer;
    ahead integer;
    chosen integer;
begin
    select max_concurrent_executions into slot_limit
    from amc_instances where id = p_instance_id
    for no key update;
    if not found then
        raise exception 'AMC instance % does not exist', p_instance_id
            using errcode = 'foreign_key_violation';
    end if;

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
    where s.execution_id = p_execution_id and s.instance_id = p_instance_id;
    if found then
        return chosen;
    end if;

    select count(*) into held from amc_instance_slots as s where s.instance_id = p_instance_id;
    if held >= slot_limit then
        return null;
    end if;

    -- Live waiters ahead of this one. Waiters look at least every few seconds, and a schedule
    -- run's heartbeat beats every 30 s: 90 seconds of silence means the process is gone.
    select count(*) into ahead
    from workflow_executions as waiter
    where waiter.instance_id = p_instance_id
        and waiter.status = 'PENDING'
        and waiter.amc_execution_id is null
        and waiter.heartbeat_at > now() - interval '90 seconds'
        and (waiter.created_at, waiter.id) < (waiting_since, p_execution_id)
        and not exists (
            select 1 from amc_instance_slots as s where s.execution_id = waiter.id
        );
    if ahead >= slot_limit - held then
        return null;
    end if;

    select candidate into chosen
    from generate_series(1, slot_limit) as candidate
    where not exists (
        select 1 from amc_instance_slots as s
        where s.instance_id = p_instance_id and s.slot = candidate
    )
    order by candidate
    limit 1;

    insert into amc_instance_slots (instance_id, slot, execution_id)
    values (p_instance_id, chosen, p_execution_id);
    return chosen;
end
$$;

revoke execute on function claim_amc_instance_slot(uuid, uuid) from public;

create function announce_released_amc_slot() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
    perform pg_notify('amc_instance_slots', old.instance_id::text);
    return null;
end
$$;

create trigger trigger_announce_released_amc_slot
    after delete on amc_instance_slots
    for each row
    execute function announce_released_amc_slot();
