-- Brand halo conversions: conversions relevant to each campaign from conversions_with_relevance,
-- split by halo code (promoted ASIN, brand halo, ...), with their sales and the users behind.
with relevant as (
    select
        campaign,
        halo_code,
        conversions,
        total_product_sales,
        user_id
    from conversions_with_relevance
    where
        cardinality(CUSTOM_PARAMETER('campaigns')) = 0
        or array_contains(CUSTOM_PARAMETER('campaigns'), campaign)
)

select
    campaign,
    halo_code,
    sum(conversions) as conversions,
    sum(total_product_sales) as product_sales,
    count(distinct user_id) as users
from relevant
group by 1, 2
