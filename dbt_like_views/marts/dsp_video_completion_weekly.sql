-- DSP video completion by week: every workflow made from the official template "Video completion"
-- (video_completion), across collections and schedules. One row per source (a collection week or a
-- schedule run's window) and campaign and creative, as the template returns it.
with

results as (
    {{ family_results('video_completion') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.campaign,
        results.creative,
        results.video_starts,
        results.first_quartiles,
        results.midpoints,
        results.third_quartiles,
        results.completions,
        results.completion_rate,
        results.viewers
    from results
)

select * from final
