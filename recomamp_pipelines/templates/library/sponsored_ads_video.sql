-- Sponsored ads video: how far viewers watched the video ads of Sponsored Brands, Sponsored
-- Display and Sponsored TV campaigns (five-second views, quartiles, completions).
with video as (
    select
        ad_product_type,
        campaign,
        user_id,
        impressions,
        five_sec_views,
        video_first_quartile_views,
        video_midpoint_views,
        video_third_quartile_views,
        video_complete_views
    from sponsored_ads_traffic
    where
        ad_product_type in ('sponsored_brands', 'sponsored_display', 'sponsored_television')
        and (
            cardinality(CUSTOM_PARAMETER('campaigns')) = 0
            or array_contains(CUSTOM_PARAMETER('campaigns'), campaign)
        )
)

select
    ad_product_type,
    campaign,
    sum(impressions) as impressions,
    sum(five_sec_views) as five_second_views,
    sum(video_first_quartile_views) as first_quartiles,
    sum(video_midpoint_views) as midpoints,
    sum(video_third_quartile_views) as third_quartiles,
    sum(video_complete_views) as completions,
    sum(video_complete_views) / nullif(sum(impressions), 0) as completion_rate,
    count(distinct user_id) as viewers
from video
group by 1, 2
having sum(five_sec_views) > 0
