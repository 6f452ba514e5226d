-- Audience segments: the reach of each Amazon behavior segment among the users DSP reached,
-- the share of all reached users it holds, and how many of its users purchased.
with segment_impressions as (
    select
        behavior_segment_name,
        user_id,
        impressions
    from dsp_impressions_by_user_segments
    where
        cardinality(CUSTOM_PARAMETER('campaigns')) = 0
        or array_contains(CUSTOM_PARAMETER('campaigns'), campaign)
),

purchasers as (
    select user_id
    from conversions
    where event_category = 'purchase'
    group by user_id
)

select
    segment_impressions.behavior_segment_name,
    sum(segment_impressions.impressions) as impressions,
    count(distinct segment_impressions.user_id) as reach,
    count(distinct purchasers.user_id) as purchasers,
    count(distinct purchasers.user_id) / count(distinct segment_impressions.user_id)
        as purchase_rate
from segment_impressions
left join purchasers on segment_impressions.user_id = purchasers.user_id
group by 1
