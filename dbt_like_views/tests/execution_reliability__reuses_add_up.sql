-- The mart's reuses per instance add up to the recorded reuses (reuses without an instance count
-- under the nil uuid).
with

source as (
    select
        coalesce(instance_id, '00000000-0000-0000-0000-000000000000') as instance_id,
        count(*) as week_reuses
    from analytics.stg_collection_week_reuses
    group by 1
),

mart as (
    select
        coalesce(instance_id, '00000000-0000-0000-0000-000000000000') as instance_id,
        sum(week_reuses) as week_reuses
    from analytics.execution_reliability
    where week_reuses > 0
    group by 1
),

final as (
    select source.*, mart.week_reuses as mart_week_reuses
    from source
    full join mart on mart.instance_id = source.instance_id
    where mart.week_reuses is distinct from source.week_reuses
)

select * from final
