-- DSP delivery by geography by week: every workflow made from the official template "DSP geography"
-- (dsp_geography), across collections and schedules. One row per source (a collection week or a
-- schedule run's window) and campaign, country and state or province, as the template returns it.
with

results as (
    {{ family_results('dsp_geography') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.campaign,
        results.iso_country_code,
        results.iso_state_province_code,
        results.impressions,
        results.reach,
        results.spend_usd
    from results
)

select * from final
