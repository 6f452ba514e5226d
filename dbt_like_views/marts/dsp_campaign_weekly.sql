-- DSP campaign delivery by week: every workflow made from the official template "Weekly DSP
-- performance" (weekly_dsp_performance), across collections and schedules. One row per source (a
-- collection week or a schedule run's window) and campaign and device type, as the template
-- returns it.
with

results as (
    {{ family_results('weekly_dsp_performance') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.campaign,
        results.device_type,
        results.impressions,
        results.reach,
        results.average_frequency,
        results.spend_usd,
        results.cpm_usd
    from results
)

select * from final
