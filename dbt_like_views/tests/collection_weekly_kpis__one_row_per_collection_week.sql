-- Every week of every collection has its row in the mart, and the mart has no other row.
with

weeks as (
    select collection_id, week_start_date from analytics.stg_collection_weeks
),

mart as (
    select collection_id, week_start_date from analytics.collection_weekly_kpis
),

final as (
    select
        coalesce(weeks.collection_id, mart.collection_id) as collection_id,
        coalesce(weeks.week_start_date, mart.week_start_date) as week_start_date,
        case when mart.collection_id is null then 'missing from the mart' else 'not a week' end
            as problem
    from weeks
    full join mart
        on
            mart.collection_id = weeks.collection_id
            and mart.week_start_date = weeks.week_start_date
    where weeks.collection_id is null or mart.collection_id is null
)

select * from final
