-- DSP frequency distribution by week: every workflow made from the official template "DSP
-- frequency distribution" (frequency_distribution), across collections and schedules. One row per
-- source (a collection week or a schedule run's window) and frequency, as the template returns it.
with

results as (
    {{ family_results('frequency_distribution') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.frequency,
        results.frequency_bucket,
        results.users,
        results.impressions
    from results
)

select * from final
