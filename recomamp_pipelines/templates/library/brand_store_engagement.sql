-- Brand Store engagement: visitors, page views and dwell time of each store page. Reads Amazon
-- Brand Store Insights, a paid AMC feature: the instance must subscribe to it.
with page_views as (
    select
        store_name,
        page_title,
        user_id,
        dwell_time
    from amazon_brand_store_page_views
    where
        cardinality(CUSTOM_PARAMETER('store_names')) = 0
        or array_contains(CUSTOM_PARAMETER('store_names'), store_name)
)

select
    store_name,
    page_title,
    count(distinct user_id) as visitors,
    count(1) as page_views,
    sum(dwell_time) as dwell_seconds,
    sum(dwell_time) / count(1) as dwell_seconds_per_view
from page_views
group by 1, 2
