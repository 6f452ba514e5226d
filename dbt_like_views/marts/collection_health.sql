-- One row per collection: progress, failed weeks with AMC's error, freshness against the newest
-- week AMC can have completed (a week's data is complete 48 hours after it ends; a collection
-- with no such week yet has nothing to be behind on), the last success, and the published weeks
-- due for their 7, 14 or 30-day re-run.
with

collections as (
    select * from analytics.stg_collections
),

weeks as (
    select * from analytics.stg_collection_weeks
),

-- AMC's data for a week is complete 48 hours after the week ends (its end date's midnight).
week_states as (
    select
        weeks.*,
        weeks.week_end_date + 1 + interval '48 hours' <= now() as is_complete_in_amc,
        weeks.week_status = 'SUCCESS' and exists (
            select 1
            from unnest(array[7, 14, 30]) as ages (days)
            where
                weeks.week_end_date + 1 + ages.days <= now()
                and coalesce(weeks.refreshed_at, weeks.completed_at)
                < weeks.week_end_date + 1 + ages.days
        ) as is_pending_refresh
    from weeks
),

week_summary as (
    select
        week_states.collection_id,
        count(*) filter (where week_states.week_status = 'PENDING') as pending_weeks,
        count(*) filter (where week_states.week_status = 'RUNNING') as running_weeks,
        count(*) filter (where week_states.week_status = 'SUCCESS') as published_weeks,
        count(*) filter (where week_states.week_status = 'FAILED') as failed_week_count,
        count(*) filter (where week_states.week_status = 'SKIPPED') as skipped_weeks,
        coalesce(
            jsonb_agg(
                jsonb_build_object(
                    'week_start_date', week_states.week_start_date,
                    'error_message', week_states.error_message
                )
                order by week_states.week_start_date
            ) filter (where week_states.week_status = 'FAILED'),
            '[]'::jsonb
        ) as failed_weeks,
        max(week_states.week_start_date) filter (where week_states.is_complete_in_amc)
            as newest_complete_week_start_date,
        max(week_states.week_start_date) filter (where week_states.week_status = 'SUCCESS')
            as newest_published_week_start_date,
        count(*) filter (
            where week_states.is_complete_in_amc and week_states.week_status <> 'SUCCESS'
        ) as complete_weeks_not_published,
        max(week_states.completed_at) filter (where week_states.week_status = 'SUCCESS')
            as last_success_at,
        count(*) filter (where week_states.is_pending_refresh) as weeks_pending_refresh
    from week_states
    group by week_states.collection_id
),

final as (
    select
        collections.collection_id,
        collections.collection_name,
        collections.user_id,
        collections.template_key,
        collections.collection_status,
        collections.start_date,
        collections.end_date,
        collections.total_weeks,
        collections.completed_weeks,
        collections.failed_weeks as failed_week_total,
        collections.progress_percentage,
        coalesce(week_summary.pending_weeks, 0) as pending_weeks,
        coalesce(week_summary.running_weeks, 0) as running_weeks,
        coalesce(week_summary.published_weeks, 0) as published_weeks,
        coalesce(week_summary.skipped_weeks, 0) as skipped_weeks,
        coalesce(week_summary.failed_weeks, '[]'::jsonb) as failed_weeks,
        week_summary.newest_complete_week_start_date,
        week_summary.newest_published_week_start_date,
        coalesce(week_summary.complete_weeks_not_published, 0) as complete_weeks_not_published,
        case
            when week_summary.newest_complete_week_start_date is null then true
            else coalesce(
                week_summary.newest_complete_week_start_date
                <= week_summary.newest_published_week_start_date,
                false
            )
        end as is_fresh,
        week_summary.last_success_at,
        coalesce(week_summary.weeks_pending_refresh, 0) as weeks_pending_refresh
    from collections
    left join week_summary on week_summary.collection_id = collections.collection_id
)

select * from final
