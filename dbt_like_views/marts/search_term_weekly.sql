-- Sponsored ads search terms by week: every workflow made from the official template "Search term
-- performance" (search_term_performance), across collections and schedules. One row per source (a
-- collection week or a schedule run's window) and ad product and match type, as the template
-- returns it.
with

results as (
    {{ family_results('search_term_performance') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.ad_product_type,
        results.match_type,
        results.impressions,
        results.clicks,
        results.click_through_rate,
        results.spend_usd,
        results.reach
    from results
)

select * from final
