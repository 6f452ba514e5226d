-- Attempts holding a slot of the instance's account whose process is gone: no heartbeat for `silence`
-- and no session holding the attempt's lock (executions.lock_key). They end FAILED (ABANDONED), AMC's
-- execution id kept so that the next run of their week or schedule run collects it, and the
-- trigger on their status frees their slots for the waiter that found them. The collection week
-- such an attempt was running ends FAILED with it, saying so: no week stays RUNNING with nobody
-- working on it. (A schedule run's claim is handed on by the reconciler, see stale_claims.)
with reclaimed as (
    update workflow_executions as holder
    set
        status = 'FAILED',
        error_type = 'ABANDONED',
        error_message = 'its process was gone (no heartbeat since '
            || to_char(coalesce(holder.heartbeat_at, holder.created_at) at time zone 'UTC',
                'YYYY-MM-DD HH24:MI:SS')
            || ' UTC, no session working on it); its AMC slot was reclaimed',
        completed_at = now()
    where holder.id in (
            -- Every slot of the account: its instances' caps and the account's are shared by
            -- whoever's rows name them.
            select slot.execution_id
            from amc_instance_slots as slot
            where slot.account_id = (
                select instance.account_id from amc_instances as instance
                where instance.id = %(instance_id)s
            )
        )
        and holder.status in ('PENDING', 'RUNNING')
        and coalesce(holder.heartbeat_at, holder.created_at) < now() - %(silence)s::interval
        and not exists (
            select 1
            from pg_locks as held
            where held.locktype = 'advisory'
                and held.granted
                and held.objsubid = 1
                and held.database = (select oid from pg_database where datname = current_database())
                and ((held.classid::bigint << 32) | held.objid::bigint)
                    = hashtextextended('recomamp-attempt:' || holder.id::text, 0)
        )
    returning
        holder.id, holder.amc_execution_id, holder.collection_id, holder.week_start_date,
        holder.error_message
),

failed_weeks as (
    update report_data_weeks as week
    set
        status = 'FAILED',
        error_message = reclaimed.error_message
            || coalesce('; the next run of this week collects AMC execution '
                || reclaimed.amc_execution_id, ''),
        amc_execution_id = coalesce(reclaimed.amc_execution_id, week.amc_execution_id),
        retry_count = coalesce(week.retry_count, 0) + 1,
        completed_at = now()
    from reclaimed
    where week.collection_id = reclaimed.collection_id
        and week.week_start_date = reclaimed.week_start_date
        and week.execution_id = reclaimed.id
        and week.status = 'RUNNING'
    returning week.id
)

select reclaimed.id, reclaimed.amc_execution_id from reclaimed
