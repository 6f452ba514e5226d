-- One row per result row of every workflow's weekly results, across collections and schedules,
-- with the metrics the marts add up (null where the workflow's result has no such column).
-- Generated: one branch per table of the results schema, rebuilt by `recomamp views apply`.
with

results as (
    {{ results_union() }}
),

final as (
    select
        results.workflow_id,
        results.source_kind,
        results.source_id,
        case when results.source_kind = 'collection' then results.source_id end
            as collection_id,
        case when results.source_kind = 'schedule' then results.source_id end as schedule_id,
        results.user_id,
        results.week_start_date,
        results.window_start,
        results.window_end,
        results.impressions,
        results.clicks,
        results.spend_usd,
        results.purchases,
        results.sales_usd,
        results.units_sold,
        results.new_to_brand_sales_usd,
        results.new_to_brand_purchases
    from results
)

select * from final
