-- DSP viewability by week: every workflow made from the official template "DSP viewability"
-- (dsp_viewability), across collections and schedules. One row per source (a collection week or a
-- schedule run's window) and campaign, as the template returns it.
with

results as (
    {{ family_results('dsp_viewability') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.campaign,
        results.measurable_impressions,
        results.viewable_impressions,
        results.viewability_rate,
        results.reach
    from results
)

select * from final
