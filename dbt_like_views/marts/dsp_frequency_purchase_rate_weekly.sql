-- Purchase rate by DSP frequency by week: every workflow made from the official template "Purchase
-- rate by frequency" (frequency_purchase_rate), across collections and schedules. One row per
-- source (a collection week or a schedule run's window) and frequency bucket, as the template
-- returns it.
with

results as (
    {{ family_results('frequency_purchase_rate') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.frequency,
        results.frequency_bucket,
        results.users,
        results.purchasers,
        results.purchase_rate,
        results.purchases,
        results.product_sales
    from results
)

select * from final
