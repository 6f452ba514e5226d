-- Sponsored ads performance by ad product and week: every workflow made from the official template
-- "Sponsored ads performance by ad product" (sponsored_ads_performance), across collections and
-- schedules. One row per source (a collection week or a schedule run's window) and ad product
-- type, as the template returns it.
with

results as (
    {{ family_results('sponsored_ads_performance') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.ad_product_type,
        results.impressions,
        results.clicks,
        results.reach,
        results.spend_usd,
        results.click_through_rate,
        results.cost_per_click_usd
    from results
)

select * from final
