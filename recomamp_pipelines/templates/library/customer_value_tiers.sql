-- Customer lifetime value tiers: the brand's customers of the window grouped by what each spent
-- (per customer, over every purchase of the window) and by whether they were new to the brand,
-- with their share of customers and sales per customer.
with customers as (
    select
        user_id,
        max(if(new_to_brand, 1, 0)) as is_new_to_brand,
        sum(conversions) as purchases,
        sum(total_units_sold) as units_sold,
        sum(total_product_sales) as product_sales
    from conversions
    where
        event_category = 'purchase'
        and (
            cardinality(CUSTOM_PARAMETER('asins')) = 0
            or array_contains(CUSTOM_PARAMETER('asins'), tracked_asin)
        )
    group by user_id
),

tiered as (
    select
        user_id,
        purchases,
        units_sold,
        product_sales,
        if(is_new_to_brand = 1, 'new_to_brand', 'returning') as customer_type,
        case
            when product_sales < CUSTOM_PARAMETER('tier_step_usd') then 1
            when product_sales < 2 * CUSTOM_PARAMETER('tier_step_usd') then 2
            when product_sales < 4 * CUSTOM_PARAMETER('tier_step_usd') then 3
            else 4
        end as value_tier
    from customers
)

select
    customer_type,
    value_tier,
    case value_tier
        when 1 then 'low'
        when 2 then 'medium'
        when 3 then 'high'
        else 'top'
    end as value_tier_name,
    count(distinct user_id) as customers,
    sum(purchases) as purchases,
    sum(units_sold) as units_sold,
    sum(product_sales) as product_sales,
    sum(product_sales) / count(distinct user_id) as sales_per_customer,
    sum(purchases) / count(distinct user_id) as purchases_per_customer
from tiered
group by 1, 2, 3
