-- Brand halo conversions by week: every workflow made from the official template "Brand halo
-- conversions" (brand_halo_conversions), across collections and schedules. One row per source (a
-- collection week or a schedule run's window) and campaign and halo code, as the template returns
-- it.
with

results as (
    {{ family_results('brand_halo_conversions') }}
),

final as (
    select
        {{ source_keys('results') }},
        results.campaign,
        results.halo_code,
        results.conversions,
        results.product_sales,
        results.users
    from results
)

select * from final
