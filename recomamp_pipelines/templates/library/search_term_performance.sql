-- Search term performance: the sponsored products and brands match types that bring traffic,
-- with clicks, spend and the reach behind them (spend in microcents: 100000000 = $1).
with traffic as (
    select
        ad_product_type,
        match_type,
        impressions,
        clicks,
        spend,
        user_id
    from sponsored_ads_traffic
    where
        ad_product_type in ('sponsored_products', 'sponsored_brands')
        and match_type is not null
)

select
    ad_product_type,
    match_type,
    sum(impressions) as impressions,
    sum(clicks) as clicks,
    sum(clicks) / nullif(sum(impressions), 0) as click_through_rate,
    sum(spend) / 100000000.0 as spend_usd,
    count(distinct user_id) as reach
from traffic
group by 1, 2
having sum(impressions) >= CUSTOM_PARAMETER('min_impressions')
