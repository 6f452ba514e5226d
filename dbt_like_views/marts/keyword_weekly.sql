-- Sponsored ads keywords by week: every workflow made from the official template "Keyword
-- performance" (keyword_conversions), across collections and schedules. One row per source (a
-- collection week or a schedule run's window) and keyword and match type, as the template returns
-- it.
with

results as (
    {{ family_results('keyword_conversions') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.targeting,
        results.match_type,
        results.impressions,
        results.clicks,
        results.click_through_rate,
        results.spend_usd,
        results.cost_per_click_usd,
        results.reach,
        results.clickers,
        results.purchasing_clickers
    from results
)

select * from final
