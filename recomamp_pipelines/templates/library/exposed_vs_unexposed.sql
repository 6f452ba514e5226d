-- Exposed vs unexposed: the brand's shoppers (users who viewed its products, added them to
-- the cart or bought them) split by whether they saw the selected DSP campaigns, with the
-- purchase rate of each group. A higher rate among the exposed suggests the campaigns' lift.
with shoppers as (
    select
        user_id,
        sum(case when event_category = 'purchase' then conversions else 0 end) as purchases,
        sum(case when event_category = 'purchase' then total_product_sales else 0 end)
            as product_sales
    from conversions
    where
        cardinality(CUSTOM_PARAMETER('asins')) = 0
        or array_contains(CUSTOM_PARAMETER('asins'), tracked_asin)
    group by user_id
),

exposed as (
    select user_id
    from dsp_impressions
    where
        cardinality(CUSTOM_PARAMETER('campaigns')) = 0
        or array_contains(CUSTOM_PARAMETER('campaigns'), campaign)
    group by user_id
),

grouped as (
    select
        shoppers.user_id,
        shoppers.purchases,
        shoppers.product_sales,
        if(exposed.user_id is null, 'unexposed', 'exposed') as exposure_group
    from shoppers
    left join exposed on shoppers.user_id = exposed.user_id
)

select
    exposure_group,
    count(distinct user_id) as shoppers,
    count(distinct case when purchases > 0 then user_id end) as purchasers,
    count(distinct case when purchases > 0 then user_id end) / count(distinct user_id)
        as purchase_rate,
    sum(purchases) as purchases,
    sum(product_sales) as product_sales,
    sum(product_sales) / count(distinct user_id) as sales_per_shopper
from grouped
group by 1
