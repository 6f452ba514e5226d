-- Streaming TV reach: DSP delivery on Prime Video and the other streaming sites, by campaign
-- and site, with reach, frequency, cost and the share of viewers who went on to purchase.
with streaming as (
    select
        campaign,
        site,
        user_id,
        impressions,
        total_cost
    from dsp_impressions
    where array_contains(CUSTOM_PARAMETER('sites'), site)
),

purchasers as (
    select user_id
    from conversions
    where event_category = 'purchase'
    group by user_id
)

select
    streaming.campaign,
    streaming.site,
    sum(streaming.impressions) as impressions,
    count(distinct streaming.user_id) as reach,
    sum(streaming.impressions) / count(distinct streaming.user_id) as average_frequency,
    sum(streaming.total_cost) / 100000.0 as spend_usd,
    count(distinct purchasers.user_id) as purchasers,
    count(distinct purchasers.user_id) / count(distinct streaming.user_id) as purchase_rate
from streaming
left join purchasers on streaming.user_id = purchasers.user_id
group by 1, 2
