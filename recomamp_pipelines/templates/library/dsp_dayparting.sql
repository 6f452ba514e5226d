-- Dayparting: DSP delivery by day of the week and hour of the day (in the advertiser's time
-- zone), with reach and cost, to find when audiences are reached best.
with impressions as (
    select
        day_of_week(impression_dt) as day_of_week,
        impression_hour,
        impressions,
        total_cost,
        user_id
    from dsp_impressions
    where
        cardinality(CUSTOM_PARAMETER('campaigns')) = 0
        or array_contains(CUSTOM_PARAMETER('campaigns'), campaign)
)

select
    day_of_week,
    case day_of_week
        when 1 then 'Monday'
        when 2 then 'Tuesday'
        when 3 then 'Wednesday'
        when 4 then 'Thursday'
        when 5 then 'Friday'
        when 6 then 'Saturday'
        else 'Sunday'
    end as day_name,
    impression_hour as hour_of_day,
    sum(impressions) as impressions,
    count(distinct user_id) as reach,
    sum(total_cost) / 100000.0 as spend_usd
from impressions
group by 1, 2, 3
