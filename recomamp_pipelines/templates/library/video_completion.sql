-- Video completion: how far viewers watched each DSP video creative (dsp_video_events_feed
-- holds the player's events of each online video impression).
with video as (
    select
        campaign,
        creative,
        user_id,
        video_start,
        video_first_quartile,
        video_midpoint,
        video_third_quartile,
        video_complete
    from dsp_video_events_feed
    where
        cardinality(CUSTOM_PARAMETER('campaigns')) = 0
        or array_contains(CUSTOM_PARAMETER('campaigns'), campaign)
)

select
    campaign,
    creative,
    sum(video_start) as video_starts,
    sum(video_first_quartile) as first_quartiles,
    sum(video_midpoint) as midpoints,
    sum(video_third_quartile) as third_quartiles,
    sum(video_complete) as completions,
    sum(video_complete) / nullif(sum(video_start), 0) as completion_rate,
    count(distinct user_id) as viewers
from video
group by 1, 2
