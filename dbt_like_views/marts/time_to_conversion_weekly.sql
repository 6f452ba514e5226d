-- Time from first exposure to purchase by week: every workflow made from the official template
-- "Time to conversion" (time_to_conversion), across collections and schedules. One row per source
-- (a collection week or a schedule run's window) and time bucket, as the template returns it.
with

results as (
    {{ family_results('time_to_conversion') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.bucket_order,
        results.time_to_conversion,
        results.users,
        results.purchases,
        results.product_sales
    from results
)

select * from final
