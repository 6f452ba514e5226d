-- Audience overlap of DSP and sponsored ads, with the purchase rate of each group:
-- users reached by DSP only, by sponsored ads only, or by both, and how many of them bought.
with exposures as (
    select
        user_id,
        1 as saw_dsp,
        0 as saw_sponsored_ads
    from dsp_impressions
    group by user_id

    union all

    select
        user_id,
        0 as saw_dsp,
        1 as saw_sponsored_ads
    from sponsored_ads_traffic
    where impressions > 0
    group by user_id
),

exposed_users as (
    select
        user_id,
        max(saw_dsp) as saw_dsp,
        max(saw_sponsored_ads) as saw_sponsored_ads
    from exposures
    group by user_id
),

purchasers as (
    select user_id
    from conversions
    where
        event_category = 'purchase'
        and (
            cardinality(CUSTOM_PARAMETER('asins')) = 0
            or array_contains(CUSTOM_PARAMETER('asins'), tracked_asin)
        )
    group by user_id
)

select
    case
        when exposed_users.saw_dsp = 1 and exposed_users.saw_sponsored_ads = 1
            then 'dsp_and_sponsored_ads'
        when exposed_users.saw_dsp = 1 then 'dsp_only'
        else 'sponsored_ads_only'
    end as exposure_group,
    count(distinct exposed_users.user_id) as users,
    count(distinct purchasers.user_id) as purchasers,
    count(distinct purchasers.user_id) / count(distinct exposed_users.user_id) as purchase_rate
from exposed_users
left join purchasers on exposed_users.user_id = purchasers.user_id
group by 1
