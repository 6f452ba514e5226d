-- DSP dayparting by week: every workflow made from the official template "DSP dayparting"
-- (dsp_dayparting), across collections and schedules. One row per source (a collection week or a
-- schedule run's window) and day of the week and hour, as the template returns it.
with

results as (
    {{ family_results('dsp_dayparting') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.day_of_week,
        results.day_name,
        results.hour_of_day,
        results.impressions,
        results.reach,
        results.spend_usd
    from results
)

select * from final
