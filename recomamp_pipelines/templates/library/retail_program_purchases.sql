-- Purchases by retail program: the brand's purchases split by the Amazon program they were
-- made through (Subscribe & Save, Prime, ...), with customers, units, sales and new-to-brand
-- customers.
with purchases as (
    select
        purchase_retail_program,
        user_id,
        new_to_brand,
        conversions,
        total_units_sold,
        total_product_sales
    from conversions
    where
        event_category = 'purchase'
        and (
            cardinality(CUSTOM_PARAMETER('asins')) = 0
            or array_contains(CUSTOM_PARAMETER('asins'), tracked_asin)
        )
)

select
    coalesce(purchase_retail_program, 'none') as retail_program,
    count(distinct user_id) as customers,
    count(distinct case when new_to_brand then user_id end) as new_to_brand_customers,
    sum(conversions) as purchases,
    sum(total_units_sold) as units_sold,
    sum(total_product_sales) as product_sales,
    sum(total_product_sales) / count(distinct user_id) as sales_per_customer
from purchases
group by 1
