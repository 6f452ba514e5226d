-- Each schedule's runs by outcome in the mart add up to its schedule runs.
with

source as (
    select
        schedule_id,
        count(*) as runs,
        count(*) filter (where is_success) as succeeded,
        count(*) filter (where is_failure) as failed,
        count(*) filter (where is_skipped) as skipped
    from analytics.stg_schedule_runs
    group by schedule_id
),

final as (
    select mart.schedule_id, mart.runs, coalesce(source.runs, 0) as source_runs
    from analytics.schedule_reliability as mart
    left join source on source.schedule_id = mart.schedule_id
    where
        mart.runs <> coalesce(source.runs, 0)
        or mart.succeeded <> coalesce(source.succeeded, 0)
        or mart.failed <> coalesce(source.failed, 0)
        or mart.skipped <> coalesce(source.skipped, 0)
)

select * from final
