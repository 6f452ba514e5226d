-- Time from first exposure to purchase by week: every workflow made from the official template
-- "Time to conversion" (time_to_conversion), across collections and schedules. One row per source
-- (a collection week or a schedule run's window) and time bucket, as the template returns it.
with

results as (
    {{ template_results('time_to_conversion') }}
),

collections as (
    select * from analytics.stg_collections
),

schedules as (
    select * from analytics.stg_workflow_schedules
),

final as (
    select
        results.source_kind,
        case when results.source_kind = 'collection' then results.source_id end
            as collection_id,
        collections.collection_name,
        case when results.source_kind = 'schedule' then results.source_id end as schedule_id,
        schedules.schedule_name,
        results.user_id,
        results.week_start_date,
        results.window_start,
        results.window_end,
        results.bucket_order,
        results.time_to_conversion,
        results.users,
        results.purchases,
        results.product_sales
    from results
    left join collections
        on results.source_kind = 'collection' and collections.collection_id = results.source_id
    left join schedules
        on results.source_kind = 'schedule' and schedules.schedule_id = results.source_id
)

select * from final
