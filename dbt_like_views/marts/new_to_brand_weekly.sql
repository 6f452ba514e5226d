-- New-to-brand purchases and sales by week: every workflow made from the official template "New-
-- to-brand sales" (new_to_brand_sales), across collections and schedules. One row per source (a
-- collection week or a schedule run's window) and ad product and campaign, as the template returns
-- it.
with

results as (
    {{ family_results('new_to_brand_sales') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.ad_product,
        results.campaign,
        results.purchases,
        results.product_sales,
        results.new_to_brand_purchases,
        results.new_to_brand_product_sales,
        results.new_to_brand_sales_share_pct,
        results.customers,
        results.new_to_brand_customers
    from results
)

select * from final
