-- Sponsored ads performance per ad product: traffic, spend and reach.
-- spend is in microcents (100000000 = $1); clicks are 0/1 per event.
select
    ad_product_type,
    sum(impressions) as impressions,
    sum(clicks) as clicks,
    count(distinct user_id) as reach,
    sum(spend) / 100000000.0 as spend_usd,
    sum(clicks) / nullif(sum(impressions), 0) as click_through_rate,
    sum(spend) / 100000000.0 / nullif(sum(clicks), 0) as cost_per_click_usd
from sponsored_ads_traffic
where
    (
        CUSTOM_PARAMETER('ad_product') = 'all'
        or ad_product_type = CUSTOM_PARAMETER('ad_product')
    )
    and campaign like CUSTOM_PARAMETER('campaign_name')
group by 1
