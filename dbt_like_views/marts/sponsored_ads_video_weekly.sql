-- Sponsored ads video completion by week: every workflow made from the official template "Sponsored
-- ads video completion" (sponsored_ads_video), across collections and schedules. One row per source
-- (a collection week or a schedule run's window) and ad product and campaign, as the template
-- returns it.
with

results as (
    {{ family_results('sponsored_ads_video') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.ad_product_type,
        results.campaign,
        results.impressions,
        results.five_second_views,
        results.first_quartiles,
        results.midpoints,
        results.third_quartiles,
        results.completions,
        results.completion_rate,
        results.viewers
    from results
)

select * from final
