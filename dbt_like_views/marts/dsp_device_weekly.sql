-- DSP delivery by device by week: every workflow made from the official template "DSP device
-- performance" (dsp_device_performance), across collections and schedules. One row per source (a
-- collection week or a schedule run's window) and campaign and device, as the template returns it.
with

results as (
    {{ family_results('dsp_device_performance') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.device_type,
        results.operating_system,
        results.impressions,
        results.reach,
        results.clicks,
        results.click_through_rate
    from results
)

select * from final
