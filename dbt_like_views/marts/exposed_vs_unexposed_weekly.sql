-- Exposed vs unexposed shoppers by week: every workflow made from the official template "Exposed vs
-- unexposed shoppers" (exposed_vs_unexposed), across collections and schedules. One row per source
-- (a collection week or a schedule run's window) and exposure group, as the template returns it.
with

results as (
    {{ family_results('exposed_vs_unexposed') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.exposure_group,
        results.shoppers,
        results.purchasers,
        results.purchase_rate,
        results.purchases,
        results.product_sales,
        results.sales_per_shopper
    from results
)

select * from final
