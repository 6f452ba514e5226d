-- Brand Store engagement by week: every workflow made from the official template "Brand Store
-- engagement" (brand_store_engagement), across collections and schedules. One row per source (a
-- collection week or a schedule run's window) and store and page, as the template returns it.
with

results as (
    {{ family_results('brand_store_engagement') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.store_name,
        results.page_title,
        results.visitors,
        results.page_views,
        results.dwell_seconds,
        results.dwell_seconds_per_view
    from results
)

select * from final
