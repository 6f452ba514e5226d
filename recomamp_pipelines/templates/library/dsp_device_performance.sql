-- DSP device performance: impressions, reach, clicks and click-through rate by device type
-- and operating system.
with impressions as (
    select
        device_type,
        operating_system,
        sum(impressions) as impressions,
        count(distinct user_id) as reach
    from dsp_impressions
    group by 1, 2
),

clicks as (
    select
        device_type,
        operating_system,
        sum(clicks) as clicks
    from dsp_clicks
    group by 1, 2
)

select
    impressions.device_type,
    impressions.operating_system,
    sum(impressions.impressions) as impressions,
    sum(impressions.reach) as reach,
    sum(coalesce(clicks.clicks, 0)) as clicks,
    sum(coalesce(clicks.clicks, 0)) / nullif(sum(impressions.impressions), 0)
        as click_through_rate
from impressions
left join clicks
    on
        impressions.device_type = clicks.device_type
        and impressions.operating_system = clicks.operating_system
group by 1, 2
having sum(impressions.impressions) >= CUSTOM_PARAMETER('min_impressions')
