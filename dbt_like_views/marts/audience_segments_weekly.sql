-- Audience segment reach and purchase rate by week: every workflow made from the official template
-- "Audience segment reach and purchase rate" (segment_reach_conversion), across collections and
-- schedules. One row per source (a collection week or a schedule run's window) and behavior
-- segment, as the template returns it.
with

results as (
    {{ family_results('segment_reach_conversion') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.behavior_segment_name,
        results.impressions,
        results.reach,
        results.purchasers,
        results.purchase_rate
    from results
)

select * from final
