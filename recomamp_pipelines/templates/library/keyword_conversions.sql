-- Keyword performance: the sponsored ads targets (keywords) and match types that bring traffic,
-- with their spend, the users who clicked them and how many of those users purchased the
-- brand's products (spend in microcents: 100000000 = $1). A user who clicked several keywords
-- counts for each of them.
with traffic as (
    select
        targeting,
        match_type,
        user_id,
        impressions,
        clicks,
        spend
    from sponsored_ads_traffic
    where
        targeting is not null
        and ad_product_type in ('sponsored_products', 'sponsored_brands')
),

purchasers as (
    select user_id
    from conversions
    where event_category = 'purchase'
    group by user_id
)

select
    traffic.targeting,
    traffic.match_type,
    sum(traffic.impressions) as impressions,
    sum(traffic.clicks) as clicks,
    sum(traffic.clicks) / nullif(sum(traffic.impressions), 0) as click_through_rate,
    sum(traffic.spend) / 100000000.0 as spend_usd,
    sum(traffic.spend) / 100000000.0 / nullif(sum(traffic.clicks), 0) as cost_per_click_usd,
    count(distinct traffic.user_id) as reach,
    count(distinct case when traffic.clicks > 0 then traffic.user_id end) as clickers,
    count(distinct case when traffic.clicks > 0 then purchasers.user_id end)
        as purchasing_clickers
from traffic
left join purchasers on traffic.user_id = purchasers.user_id
group by 1, 2
having sum(traffic.clicks) >= CUSTOM_PARAMETER('min_clicks')
