-- Frequency distribution: how many users saw DSP ads how many times; the last bucket holds
-- everyone at or above the frequency cap ("10+").
with user_frequency as (
    select
        user_id,
        sum(impressions) as impressions
    from dsp_impressions
    where
        cardinality(CUSTOM_PARAMETER('campaigns')) = 0
        or array_contains(CUSTOM_PARAMETER('campaigns'), campaign)
    group by user_id
),

bucketed as (
    select
        user_id,
        impressions,
        least(impressions, CUSTOM_PARAMETER('frequency_cap')) as frequency
    from user_frequency
)

select
    frequency,
    case
        when frequency >= CUSTOM_PARAMETER('frequency_cap')
            then concat(cast(frequency as string), '+')
        else cast(frequency as string)
    end as frequency_bucket,
    count(distinct user_id) as users,
    sum(impressions) as impressions
from bucketed
group by 1, 2
