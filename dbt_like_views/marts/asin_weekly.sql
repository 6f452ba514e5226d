-- Product (ASIN) funnel and sales by week: every workflow made from the official template "ASIN
-- performance" (asin_performance), across collections and schedules. One row per source (a
-- collection week or a schedule run's window) and tracked ASIN, as the template returns it.
with

results as (
    {{ family_results('asin_performance') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.tracked_asin,
        results.detail_page_views,
        results.add_to_carts,
        results.purchases,
        results.units_sold,
        results.product_sales,
        results.new_to_brand_product_sales,
        results.users,
        results.purchasers
    from results
)

select * from final
