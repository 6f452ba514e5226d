-- Every collection has one health row, whose weeks by status add up to the collection's week
-- rows.
with

weeks as (
    select collection_id, count(*) as week_rows
    from analytics.stg_collection_weeks
    group by collection_id
),

final as (
    select
        health.collection_id,
        health.pending_weeks + health.running_weeks + health.published_weeks
        + health.skipped_weeks + jsonb_array_length(health.failed_weeks) as health_weeks,
        coalesce(weeks.week_rows, 0) as week_rows
    from analytics.collection_health as health
    left join weeks on weeks.collection_id = health.collection_id
    where
        health.pending_weeks + health.running_weeks + health.published_weeks
        + health.skipped_weeks + jsonb_array_length(health.failed_weeks)
        <> coalesce(weeks.week_rows, 0)
        or (select count(*) from analytics.collection_health)
        <> (select count(*) from analytics.stg_collections)
)

select * from final
