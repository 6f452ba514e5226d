-- Sponsored ads by placement: where on and off Amazon each ad product's ads showed (top of
-- search, detail pages, ...), with clicks, spend and cost per click (spend in microcents).
with traffic as (
    select
        ad_product_type,
        placement_type,
        impressions,
        clicks,
        spend,
        user_id
    from sponsored_ads_traffic
    where
        CUSTOM_PARAMETER('ad_product') = 'all'
        or ad_product_type = CUSTOM_PARAMETER('ad_product')
)

select
    ad_product_type,
    placement_type,
    sum(impressions) as impressions,
    sum(clicks) as clicks,
    sum(clicks) / nullif(sum(impressions), 0) as click_through_rate,
    sum(spend) / 100000000.0 as spend_usd,
    sum(spend) / 100000000.0 / nullif(sum(clicks), 0) as cost_per_click_usd,
    count(distinct user_id) as reach
from traffic
group by 1, 2
