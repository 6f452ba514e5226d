-- One row per reuse of a collection week: a run found the week published with the request it
-- would send now and kept the result without calling AMC.
with

reuses as (
    select * from public.collection_week_reuses
),

final as (
    select
        reuses.id as week_reuse_id,
        reuses.collection_week_id,
        reuses.instance_id,
        reuses.execution_id,
        reuses.request_hash,
        reuses.reason as reuse_reason,
        reuses.dagster_run_id,
        reuses.reused_at
    from reuses
)

select * from final
