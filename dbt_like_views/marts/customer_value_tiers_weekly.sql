-- Customer lifetime value tiers by week: every workflow made from the official template "Customer
-- lifetime value tiers" (customer_value_tiers), across collections and schedules. One row per
-- source (a collection week or a schedule run's window) and customer type and value tier, as the
-- template returns it.
with

results as (
    {{ family_results('customer_value_tiers') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.customer_type,
        results.value_tier,
        results.value_tier_name,
        results.customers,
        results.purchases,
        results.units_sold,
        results.product_sales,
        results.sales_per_customer,
        results.purchases_per_customer
    from results
)

select * from final
