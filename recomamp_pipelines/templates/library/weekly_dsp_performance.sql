-- Weekly DSP performance: delivery, spend and reach of each DSP campaign in the run's window.
-- total_cost is in millicents (100000 = $1).
select
    campaign,
    case
        when CUSTOM_PARAMETER('split_by_device') then device_type
        else 'all devices'
    end as device_type,
    sum(impressions) as impressions,
    count(distinct user_id) as reach,
    sum(impressions) / count(distinct user_id) as average_frequency,
    sum(total_cost) / 100000.0 as spend_usd,
    sum(total_cost) / 100000.0 / sum(impressions) * 1000 as cpm_usd
from dsp_impressions
where
    cardinality(CUSTOM_PARAMETER('campaigns')) = 0
    or array_contains(CUSTOM_PARAMETER('campaigns'), campaign)
group by 1, 2
having sum(impressions) >= CUSTOM_PARAMETER('min_impressions')
