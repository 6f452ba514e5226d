-- New-to-brand sales per ad product and campaign: purchases and sales from customers who had
-- not bought the brand in the past year, and their share of all attributed sales.
select
    coalesce(ad_product_type, 'dsp') as ad_product,
    campaign,
    sum(purchases) as purchases,
    sum(product_sales) as product_sales,
    sum(case when new_to_brand then purchases else 0 end) as new_to_brand_purchases,
    sum(new_to_brand_product_sales) as new_to_brand_product_sales,
    100.0 * sum(new_to_brand_product_sales) / nullif(sum(product_sales), 0)
        as new_to_brand_sales_share_pct,
    count(distinct user_id) as customers,
    count(distinct case when new_to_brand then user_id end) as new_to_brand_customers
from amazon_attributed_events_by_conversion_time
where
    purchases > 0
    and (
        cardinality(CUSTOM_PARAMETER('asins')) = 0
        or array_contains(CUSTOM_PARAMETER('asins'), tracked_asin)
    )
group by 1, 2
having
    coalesce(100.0 * sum(new_to_brand_product_sales) / nullif(sum(product_sales), 0), 0)
    >= CUSTOM_PARAMETER('min_new_to_brand_share')
