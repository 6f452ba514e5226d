-- Prime Video and streaming TV reach by week: every workflow made from the official template "Prime
-- Video and streaming TV reach" (streaming_tv_reach), across collections and schedules. One row per
-- source (a collection week or a schedule run's window) and campaign and site, as the template
-- returns it.
with

results as (
    {{ family_results('streaming_tv_reach') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.campaign,
        results.site,
        results.impressions,
        results.reach,
        results.average_frequency,
        results.spend_usd,
        results.purchasers,
        results.purchase_rate
    from results
)

select * from final
