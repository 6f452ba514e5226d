-- DSP viewability: measurable and viewable impressions (IAB standard) of each campaign, from
-- dsp_views, with the reach of the viewable ones.
with views as (
    select
        campaign,
        user_id,
        measurable_impressions,
        viewable_impressions
    from dsp_views
    where
        cardinality(CUSTOM_PARAMETER('campaigns')) = 0
        or array_contains(CUSTOM_PARAMETER('campaigns'), campaign)
)

select
    campaign,
    sum(measurable_impressions) as measurable_impressions,
    sum(viewable_impressions) as viewable_impressions,
    sum(viewable_impressions) / nullif(sum(measurable_impressions), 0) as viewability_rate,
    count(distinct user_id) as reach
from views
group by 1
