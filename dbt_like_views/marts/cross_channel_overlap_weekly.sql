-- DSP and sponsored ads audience overlap by week: every workflow made from the official template
-- "DSP and sponsored ads audience overlap" (dsp_sponsored_ads_overlap), across collections and
-- schedules. One row per source (a collection week or a schedule run's window) and exposure group,
-- as the template returns it.
with

results as (
    {{ family_results('dsp_sponsored_ads_overlap') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.exposure_group,
        results.users,
        results.purchasers,
        results.purchase_rate
    from results
)

select * from final
