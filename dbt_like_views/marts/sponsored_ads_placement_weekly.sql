-- Sponsored ads by placement by week: every workflow made from the official template "Sponsored ads
-- by placement" (sponsored_ads_placement), across collections and schedules. One row per source (a
-- collection week or a schedule run's window) and ad product and placement, as the template returns
-- it.
with

results as (
    {{ family_results('sponsored_ads_placement') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.ad_product_type,
        results.placement_type,
        results.impressions,
        results.clicks,
        results.click_through_rate,
        results.spend_usd,
        results.cost_per_click_usd,
        results.reach
    from results
)

select * from final
