-- Purchases by retail program by week: every workflow made from the official template "Purchases by
-- retail program" (retail_program_purchases), across collections and schedules. One row per source
-- (a collection week or a schedule run's window) and retail program, as the template returns it.
with

results as (
    {{ family_results('retail_program_purchases') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.retail_program,
        results.customers,
        results.new_to_brand_customers,
        results.purchases,
        results.units_sold,
        results.product_sales,
        results.sales_per_customer
    from results
)

select * from final
