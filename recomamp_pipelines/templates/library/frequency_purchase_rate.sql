-- Purchase rate by DSP frequency: users grouped by how many DSP impressions they saw, with how
-- many of them bought the advertiser's products, to find the frequency that converts best.
with user_frequency as (
    select
        user_id,
        least(sum(impressions), CUSTOM_PARAMETER('frequency_cap')) as frequency
    from dsp_impressions
    where
        cardinality(CUSTOM_PARAMETER('campaigns')) = 0
        or array_contains(CUSTOM_PARAMETER('campaigns'), campaign)
    group by user_id
),

purchasers as (
    select
        user_id,
        sum(conversions) as purchases,
        sum(total_product_sales) as product_sales
    from conversions
    where event_category = 'purchase'
    group by user_id
)

select
    user_frequency.frequency,
    case
        when user_frequency.frequency >= CUSTOM_PARAMETER('frequency_cap')
            then concat(cast(user_frequency.frequency as string), '+')
        else cast(user_frequency.frequency as string)
    end as frequency_bucket,
    count(distinct user_frequency.user_id) as users,
    count(distinct purchasers.user_id) as purchasers,
    count(distinct purchasers.user_id) / count(distinct user_frequency.user_id) as purchase_rate,
    sum(purchasers.purchases) as purchases,
    sum(purchasers.product_sales) as product_sales
from user_frequency
left join purchasers on user_frequency.user_id = purchasers.user_id
group by 1, 2
