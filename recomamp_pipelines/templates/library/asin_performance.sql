-- ASIN performance: the shopping funnel of each tracked ASIN (detail page views, add to cart,
-- purchases, units, sales, new-to-brand sales) from ad-attributed events.
select
    tracked_asin,
    sum(detail_page_view) as detail_page_views,
    sum(add_to_cart) as add_to_carts,
    sum(purchases) as purchases,
    sum(units_sold) as units_sold,
    sum(product_sales) as product_sales,
    sum(new_to_brand_product_sales) as new_to_brand_product_sales,
    count(distinct user_id) as users,
    count(distinct case when purchases > 0 then user_id end) as purchasers
from amazon_attributed_events_by_conversion_time
where
    (
        cardinality(CUSTOM_PARAMETER('asins')) = 0
        or array_contains(CUSTOM_PARAMETER('asins'), tracked_asin)
    )
    and (
        CUSTOM_PARAMETER('ad_channel') = 'all'
        or (CUSTOM_PARAMETER('ad_channel') = 'dsp' and ad_product_type is null)
        or (CUSTOM_PARAMETER('ad_channel') = 'sponsored_ads' and ad_product_type is not null)
    )
group by 1
having sum(purchases) >= CUSTOM_PARAMETER('min_purchases')
