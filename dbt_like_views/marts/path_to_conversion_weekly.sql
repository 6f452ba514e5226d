-- Paths to conversion by week: every workflow made from the official template "Path to conversion"
-- (path_to_conversion), across collections and schedules. One row per source (a collection week or
-- a schedule run's window) and path, as the template returns it.
with

results as (
    {{ family_results('path_to_conversion') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.path,
        results.path_length,
        results.users,
        results.purchases,
        results.product_sales
    from results
)

select * from final
