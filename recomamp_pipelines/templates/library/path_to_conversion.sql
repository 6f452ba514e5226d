-- Path to conversion: the order in which converting users first met each ad channel
-- (DSP, sponsored products, brands, display, television), with their purchases and sales.
with attributed as (
    select
        user_id,
        coalesce(ad_product_type, 'dsp') as channel,
        traffic_event_dt,
        purchases,
        product_sales
    from amazon_attributed_events_by_conversion_time
    where
        purchases > 0
        and (
            CUSTOM_PARAMETER('touch_type') = 'all'
            or traffic_event_subtype = CUSTOM_PARAMETER('touch_type')
        )
        and (
            cardinality(CUSTOM_PARAMETER('asins')) = 0
            or array_contains(CUSTOM_PARAMETER('asins'), tracked_asin)
        )
),

first_touches as (
    select
        user_id,
        channel,
        min(traffic_event_dt) as first_touch_dt
    from attributed
    group by user_id, channel
),

ordered_touches as (
    select
        user_id,
        channel,
        row_number() over (
            partition by user_id order by first_touch_dt, channel
        ) as touch_number
    from first_touches
),

paths as (
    select
        user_id,
        concat_ws(
            ' > ',
            max(case when touch_number = 1 then channel end),
            max(case when touch_number = 2 then channel end),
            max(case when touch_number = 3 then channel end),
            max(case when touch_number = 4 then channel end),
            max(case when touch_number = 5 then channel end)
        ) as path,
        count(channel) as path_length
    from ordered_touches
    group by user_id
),

user_conversions as (
    select
        user_id,
        sum(purchases) as purchases,
        sum(product_sales) as product_sales
    from attributed
    group by user_id
)

select
    paths.path,
    paths.path_length,
    count(distinct paths.user_id) as users,
    sum(user_conversions.purchases) as purchases,
    sum(user_conversions.product_sales) as product_sales
from paths
inner join user_conversions on paths.user_id = user_conversions.user_id
group by 1, 2
