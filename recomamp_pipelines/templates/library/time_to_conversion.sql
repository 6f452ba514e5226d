-- Time to conversion: how long after the ad (impression or click) purchases happened,
-- in buckets from under an hour to over two weeks.
with timed_conversions as (
    select
        user_id,
        purchases,
        product_sales,
        SECONDS_BETWEEN(traffic_event_dt, conversion_event_dt) as seconds_to_conversion
    from amazon_attributed_events_by_conversion_time
    where
        purchases > 0
        and array_contains(CUSTOM_PARAMETER('traffic_types'), traffic_event_subtype)
        and (
            cardinality(CUSTOM_PARAMETER('asins')) = 0
            or array_contains(CUSTOM_PARAMETER('asins'), tracked_asin)
        )
),

bucketed as (
    select
        user_id,
        purchases,
        product_sales,
        case
            when seconds_to_conversion < 3600 then 1
            when seconds_to_conversion < 21600 then 2
            when seconds_to_conversion < 86400 then 3
            when seconds_to_conversion < 259200 then 4
            when seconds_to_conversion < 604800 then 5
            when seconds_to_conversion < 1209600 then 6
            else 7
        end as bucket_order
    from timed_conversions
)

select
    bucket_order,
    case bucket_order
        when 1 then 'under 1 hour'
        when 2 then '1-6 hours'
        when 3 then '6-24 hours'
        when 4 then '1-3 days'
        when 5 then '3-7 days'
        when 6 then '7-14 days'
        else '14 days or more'
    end as time_to_conversion,
    count(distinct user_id) as users,
    sum(purchases) as purchases,
    sum(product_sales) as product_sales
from bucketed
group by 1, 2
