-- Each collection week's rows and metric totals in the mart equal those of its results rows.
with

results as (
    select
        collection_id,
        week_start_date,
        count(*) as result_rows,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(spend_usd) as spend_usd,
        sum(purchases) as purchases,
        sum(sales_usd) as sales_usd
    from analytics.stg_workflow_results
    where source_kind = 'collection'
    group by collection_id, week_start_date
),

mart as (
    select * from analytics.collection_weekly_kpis
),

final as (
    select
        mart.collection_id,
        mart.week_start_date,
        mart.result_rows,
        coalesce(results.result_rows, 0) as source_rows,
        mart.impressions,
        results.impressions as source_impressions,
        mart.spend_usd,
        results.spend_usd as source_spend_usd
    from mart
    left join results
        on
            results.collection_id = mart.collection_id
            and results.week_start_date = mart.week_start_date
    where
        mart.result_rows <> coalesce(results.result_rows, 0)
        or abs(coalesce(mart.impressions, 0) - coalesce(results.impressions, 0)) > 1e-6
        or abs(coalesce(mart.clicks, 0) - coalesce(results.clicks, 0)) > 1e-6
        or abs(coalesce(mart.spend_usd, 0) - coalesce(results.spend_usd, 0))
        > 1e-9 * greatest(1, abs(results.spend_usd))
        or abs(coalesce(mart.purchases, 0) - coalesce(results.purchases, 0)) > 1e-6
        or abs(coalesce(mart.sales_usd, 0) - coalesce(results.sales_usd, 0))
        > 1e-9 * greatest(1, abs(results.sales_usd))
)

select * from final
