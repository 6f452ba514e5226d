-- Reach and frequency by DSP campaign: the users each campaign reached, how often they saw it,
-- and how many saw it once, two or three times, or more (cost in millicents: 100000 = $1).
with user_campaign_frequency as (
    select
        campaign,
        user_id,
        sum(impressions) as impressions,
        sum(total_cost) as total_cost
    from dsp_impressions
    where
        cardinality(CUSTOM_PARAMETER('campaigns')) = 0
        or array_contains(CUSTOM_PARAMETER('campaigns'), campaign)
    group by 1, 2
)

select
    campaign,
    sum(impressions) as impressions,
    count(distinct user_id) as reach,
    sum(impressions) / count(distinct user_id) as average_frequency,
    count(distinct case when impressions = 1 then user_id end) as reach_frequency_1,
    count(distinct case when impressions between 2 and 3 then user_id end)
        as reach_frequency_2_to_3,
    count(distinct case when impressions >= 4 then user_id end) as reach_frequency_4_plus,
    sum(total_cost) / 100000.0 as spend_usd,
    sum(total_cost) / 100.0 / count(distinct user_id) as cost_per_thousand_reached_usd
from user_campaign_frequency
group by 1
