-- DSP reach and frequency by campaign by week: every workflow made from the official template
-- "Reach and frequency by campaign" (campaign_reach_frequency), across collections and schedules.
-- One row per source (a collection week or a schedule run's window) and campaign, as the template
-- returns it.
with

results as (
    {{ family_results('campaign_reach_frequency') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.campaign,
        results.impressions,
        results.reach,
        results.average_frequency,
        results.reach_frequency_1,
        results.reach_frequency_2_to_3,
        results.reach_frequency_4_plus,
        results.spend_usd,
        results.cost_per_thousand_reached_usd
    from results
)

select * from final
