-- AMC SQL written the way Amazon's guides and playbooks write it, one query per "-- query:"
-- header: `-- query: <name> | <table family> | accepted` for a query real AMC runs, or
-- `| refused: <what AMC names>` for one it refuses. bench/amc_sql.py runs each over HTTP.

-- query: dsp_weekly_reach_and_cost | dsp | accepted
-- Weekly reach, impressions and cost per campaign (cost in millicents).
WITH impressions AS (
  SELECT campaign, campaign_id_string, user_id, impressions, total_cost
  FROM dsp_impressions
)
SELECT
  campaign,
  campaign_id_string,
  SUM(impressions) AS impressions,
  COUNT(DISTINCT user_id) AS reach,
  SUM(total_cost) / 100000 AS cost_usd,
  SUM(total_cost) / 100000 / NULLIF(SUM(impressions), 0) * 1000 AS ecpm
FROM impressions
GROUP BY 1, 2

-- query: dsp_line_items_by_device | dsp | accepted
WITH li AS (
  SELECT line_item, line_item_id, device_type, SUM(impressions) AS impressions,
    COUNT(DISTINCT user_id) AS reach
  FROM dsp_impressions
  GROUP BY 1, 2, 3
)
SELECT line_item, device_type, impressions, reach,
  impressions / NULLIF(reach, 0) AS frequency
FROM li

-- query: dsp_frequency_distribution | dsp | accepted
WITH user_frequency AS (
  SELECT user_id, SUM(impressions) AS frequency
  FROM dsp_impressions
  GROUP BY user_id
),
buckets AS (
  SELECT user_id,
    CASE WHEN frequency >= 10 THEN '10+' ELSE CAST(frequency AS STRING) END AS frequency_bucket
  FROM user_frequency
)
SELECT frequency_bucket, COUNT(DISTINCT user_id) AS users
FROM buckets
GROUP BY 1

-- query: dsp_optimal_frequency_with_purchases | dsp | accepted
WITH exposure AS (
  SELECT user_id, campaign, SUM(impressions) AS impressions
  FROM dsp_impressions
  GROUP BY 1, 2
),
purchasers AS (
  SELECT user_id, SUM(total_purchases) AS purchases
  FROM amazon_attributed_events_by_traffic_time
  GROUP BY 1
)
SELECT e.campaign,
  LEAST(e.impressions, 8) AS frequency,
  COUNT(DISTINCT e.user_id) AS users,
  COUNT(DISTINCT IF(p.purchases > 0, e.user_id, NULL)) AS purchasers
FROM exposure e
LEFT JOIN purchasers p ON e.user_id = p.user_id
GROUP BY 1, 2

-- query: dsp_supply_and_site | dsp | accepted
SELECT supply_source, site, SUM(impressions) AS impressions, COUNT(DISTINCT user_id) AS reach
FROM dsp_impressions
GROUP BY 1, 2

-- query: dsp_hour_of_day | dsp | accepted
WITH hourly AS (
  SELECT EXTRACT(HOUR FROM impression_dt) AS hour_of_day, user_id, impressions
  FROM dsp_impressions
)
SELECT hour_of_day, SUM(impressions) AS impressions, COUNT(DISTINCT user_id) AS reach
FROM hourly
GROUP BY 1

-- query: dsp_clicks_ctr | dsp | accepted
WITH imp AS (
  SELECT campaign, SUM(impressions) AS impressions FROM dsp_impressions GROUP BY 1
),
clk AS (
  SELECT campaign, SUM(clicks) AS clicks, COUNT(DISTINCT user_id) AS clickers
  FROM dsp_clicks GROUP BY 1
)
SELECT imp.campaign, imp.impressions, clk.clicks, clk.clickers,
  clk.clicks / NULLIF(imp.impressions, 0) AS ctr
FROM imp
LEFT JOIN clk ON imp.campaign = clk.campaign

-- query: dsp_click_delay | dsp | accepted
SELECT campaign,
  AVG(SECONDS_BETWEEN(impression_dt, click_dt)) AS avg_seconds_to_click,
  MEDIAN(SECONDS_BETWEEN(impression_dt, click_dt)) AS median_seconds_to_click,
  COUNT(DISTINCT user_id) AS clickers
FROM dsp_clicks
GROUP BY 1

-- query: dsp_viewability | dsp | accepted
-- Viewable and measurable impressions per campaign, from the views table.
WITH views AS (
  SELECT campaign, user_id, viewable_impressions, measurable_impressions
  FROM dsp_views
)
SELECT campaign,
  SUM(viewable_impressions) AS viewable,
  SUM(measurable_impressions) AS measurable,
  SUM(viewable_impressions) / NULLIF(SUM(measurable_impressions), 0) AS viewability_rate,
  COUNT(DISTINCT user_id) AS reach
FROM views
GROUP BY 1

-- query: dsp_views_vs_impressions | dsp | accepted
WITH imp AS (
  SELECT campaign_id, COUNT(DISTINCT user_id) AS reach FROM dsp_impressions GROUP BY 1
),
viewed AS (
  SELECT campaign_id, COUNT(DISTINCT user_id) AS viewers FROM dsp_views GROUP BY 1
)
SELECT imp.campaign_id, imp.reach, viewed.viewers
FROM imp FULL OUTER JOIN viewed ON imp.campaign_id = viewed.campaign_id

-- query: dsp_video_completion | dsp | accepted
WITH video AS (
  SELECT campaign, creative, user_id, video_start, video_first_quartile, video_midpoint,
    video_third_quartile, video_complete
  FROM dsp_video_events_feed
)
SELECT campaign, creative,
  SUM(video_start) AS starts,
  SUM(video_midpoint) AS midpoints,
  SUM(video_complete) AS completes,
  SUM(video_complete) / NULLIF(SUM(video_start), 0) AS completion_rate,
  COUNT(DISTINCT user_id) AS viewers
FROM video
GROUP BY 1, 2

-- query: dsp_video_quartile_funnel | dsp | accepted
SELECT 'first_quartile' AS step, SUM(video_first_quartile) AS events FROM dsp_video_events_feed
UNION ALL
SELECT 'midpoint' AS step, SUM(video_midpoint) AS events FROM dsp_video_events_feed
UNION ALL
SELECT 'complete' AS step, SUM(video_complete) AS events FROM dsp_video_events_feed

-- query: dsp_matched_segments | dsp | accepted
SELECT behavior_segment_name, SUM(impressions) AS impressions,
  SUM(behavior_segment_matched) AS matched, COUNT(DISTINCT user_id) AS reach
FROM dsp_impressions_by_matched_segments
GROUP BY 1

-- query: dsp_user_segments_reach | dsp | accepted
WITH by_segment AS (
  SELECT behavior_segment_id, campaign, user_id FROM dsp_impressions_by_user_segments
)
SELECT behavior_segment_id, campaign, COUNT(1) AS segment_impressions,
  COUNT(DISTINCT user_id) AS reach
FROM by_segment
GROUP BY 1, 2

-- query: dsp_new_vs_repeat_exposure | dsp | accepted
WITH first_seen AS (
  SELECT user_id, MIN(impression_dt) AS first_impression, MAX(impression_dt) AS last_impression
  FROM dsp_impressions
  GROUP BY 1
)
SELECT IF(SECONDS_BETWEEN(first_impression, last_impression) > 86400, 'multi_day', 'single_day')
    AS exposure_span,
  COUNT(DISTINCT user_id) AS users
FROM first_seen
GROUP BY 1

-- query: dsp_campaign_list_from_values | dsp | accepted
WITH dsp (campaign_id_string, campaign_group) AS (
  VALUES ('591000000000', 'prospecting'), ('591000001013', 'retargeting'),
    ('591000002026', 'streaming')
)
SELECT d.campaign_group, SUM(i.impressions) AS impressions, COUNT(DISTINCT i.user_id) AS reach
FROM dsp_impressions i
INNER JOIN dsp d ON i.campaign_id_string = d.campaign_id_string
GROUP BY 1

-- query: dsp_rank_campaigns | dsp | accepted
WITH totals AS (
  SELECT advertiser, campaign, SUM(impressions) AS impressions FROM dsp_impressions GROUP BY 1, 2
)
SELECT advertiser, campaign, impressions,
  RANK() OVER (PARTITION BY advertiser ORDER BY impressions DESC) AS campaign_rank
FROM totals

-- query: dsp_extended_lookback | dsp | accepted
WITH exposed AS (
  SELECT user_id, MIN(impression_dt) AS first_impression
  FROM TABLE(EXTEND_TIME_WINDOW('DSP_IMPRESSIONS', 'P7D', 'P0D'))
  GROUP BY 1
)
SELECT DATE_TRUNC('DAY', first_impression) AS first_day, COUNT(DISTINCT user_id) AS users
FROM exposed
GROUP BY 1

-- query: sa_performance_by_product | sponsored_ads | accepted
WITH traffic AS (
  SELECT ad_product_type, campaign, impressions, clicks, spend, user_id
  FROM sponsored_ads_traffic
)
SELECT ad_product_type,
  SUM(impressions) AS impressions,
  SUM(clicks) AS clicks,
  SUM(spend) / 100000000 AS spend_usd,
  COUNT(DISTINCT user_id) AS reach
FROM traffic
GROUP BY 1

-- query: sa_search_terms | sponsored_ads | accepted
-- Customer search terms that led to clicks, per match type.
WITH terms AS (
  SELECT customer_search_term, match_type, SUM(clicks) AS clicks, SUM(impressions) AS impressions
  FROM sponsored_ads_traffic
  WHERE ad_product_type = 'sponsored_products'
  GROUP BY 1, 2
)
SELECT customer_search_term, match_type, clicks, impressions,
  clicks / NULLIF(impressions, 0) AS ctr
FROM terms

-- query: sa_keyword_conversions | sponsored_ads | accepted
WITH clicks AS (
  SELECT user_id, targeting, MIN(event_dt) AS first_click
  FROM sponsored_ads_traffic
  WHERE clicks > 0
  GROUP BY 1, 2
),
purchases AS (
  SELECT user_id, MIN(conversion_event_dt) AS first_purchase
  FROM amazon_attributed_events_by_traffic_time
  WHERE total_purchases > 0
  GROUP BY 1
)
SELECT c.targeting,
  COUNT(DISTINCT c.user_id) AS clickers,
  COUNT(DISTINCT IF(p.first_purchase >= c.first_click, c.user_id, NULL)) AS purchasers
FROM clicks c
LEFT JOIN purchases p ON c.user_id = p.user_id
GROUP BY 1

-- query: sa_placement_mix | sponsored_ads | accepted
SELECT ad_product_type, placement_type, SUM(impressions) AS impressions,
  SUM(clicks) AS clicks, COUNT(DISTINCT user_id) AS reach
FROM sponsored_ads_traffic
GROUP BY 1, 2

-- query: sa_video_views | sponsored_ads | accepted
SELECT campaign, SUM(five_sec_views) AS five_second_views, SUM(impressions) AS impressions,
  COUNT(DISTINCT user_id) AS reach
FROM sponsored_ads_traffic
WHERE ad_product_type = 'sponsored_brands'
GROUP BY 1

-- query: sa_daily_trend | sponsored_ads | accepted
SELECT event_date, ad_product_type, SUM(clicks) AS clicks, SUM(spend) / 100000000 AS spend_usd,
  COUNT(DISTINCT user_id) AS reach
FROM sponsored_ads_traffic
GROUP BY 1, 2

-- query: sa_campaign_similar_to | sponsored_ads | accepted
SELECT campaign, SUM(impressions) AS impressions, COUNT(DISTINCT user_id) AS reach
FROM sponsored_ads_traffic
WHERE campaign SIMILAR TO '.*(Auto|Exact).*'
GROUP BY 1

-- query: sa_spend_percentiles | sponsored_ads | accepted
WITH per_user AS (
  SELECT user_id, SUM(spend) AS spend FROM sponsored_ads_traffic GROUP BY 1
)
SELECT PERCENTILE(spend, 0.5) AS median_spend, PERCENTILE(spend, 0.9) AS p90_spend,
  COUNT(DISTINCT user_id) AS users
FROM per_user

-- query: attributed_purchases_by_window | conversions | accepted
-- Purchases within 7 and 14 days of the ad, per campaign (traffic time).
SELECT campaign,
  SUM(IF(SECONDS_BETWEEN(traffic_event_dt_utc, conversion_event_dt_utc) <= 60 * 60 * 24 * 7,
    total_purchases, 0)) AS purchases_7d,
  SUM(IF(SECONDS_BETWEEN(traffic_event_dt_utc, conversion_event_dt_utc) <= 60 * 60 * 24 * 14,
    total_purchases, 0)) AS purchases_14d,
  SUM(total_product_sales) AS sales,
  COUNT(DISTINCT user_id) AS purchasers
FROM amazon_attributed_events_by_traffic_time
GROUP BY 1

-- query: attributed_new_to_brand | conversions | accepted
WITH purchases AS (
  SELECT campaign, user_id, new_to_brand, total_product_sales, total_purchases
  FROM amazon_attributed_events_by_conversion_time
  WHERE total_purchases > 0
)
SELECT campaign,
  SUM(IF(new_to_brand, total_purchases, 0)) AS ntb_purchases,
  SUM(total_purchases) AS purchases,
  SUM(IF(new_to_brand, total_product_sales, 0)) AS ntb_sales,
  COUNT(DISTINCT IF(new_to_brand, user_id, NULL)) AS ntb_customers
FROM purchases
GROUP BY 1

-- query: attributed_asin_sales | conversions | accepted
SELECT tracked_asin, conversion_event_category,
  SUM(total_units_sold) AS units, SUM(total_product_sales) AS sales,
  COUNT(DISTINCT user_id) AS customers
FROM amazon_attributed_events_by_conversion_time
GROUP BY 1, 2

-- query: attributed_time_to_conversion | conversions | accepted
WITH delays AS (
  SELECT user_id,
    SECONDS_BETWEEN(traffic_event_dt_utc, conversion_event_dt_utc) / 3600 AS hours_to_convert
  FROM amazon_attributed_events_by_traffic_time
  WHERE total_purchases > 0
)
SELECT CASE
    WHEN hours_to_convert < 24 THEN '0-1 days'
    WHEN hours_to_convert < 72 THEN '1-3 days'
    WHEN hours_to_convert < 168 THEN '3-7 days'
    ELSE '7-14 days'
  END AS delay_bucket,
  COUNT(DISTINCT user_id) AS purchasers
FROM delays
GROUP BY 1

-- query: attributed_dsp_vs_sa | conversions | accepted
SELECT COALESCE(ad_product_type, 'amazon_dsp') AS channel, traffic_event_subtype,
  SUM(conversions) AS conversions, SUM(total_product_sales) AS sales,
  COUNT(DISTINCT user_id) AS converters
FROM amazon_attributed_events_by_traffic_time
GROUP BY 1, 2

-- query: attributed_detail_page_funnel | conversions | accepted
SELECT campaign, SUM(detail_page_view) AS detail_page_views, SUM(add_to_cart) AS add_to_carts,
  SUM(purchases) AS purchases, COUNT(DISTINCT user_id) AS users
FROM amazon_attributed_events_by_conversion_time
GROUP BY 1

-- query: conversions_by_category | conversions | accepted
SELECT event_category, event_subtype, SUM(conversions) AS conversions,
  COUNT(DISTINCT user_id) AS converters
FROM conversions
GROUP BY 1, 2

-- query: conversions_exposed_vs_unexposed | conversions | accepted
-- Incrementality-style: purchase rate of users exposed to DSP against everyone who converted.
WITH exposed AS (
  SELECT user_id FROM dsp_impressions GROUP BY 1
),
buyers AS (
  SELECT user_id, SUM(total_units_sold) AS units FROM conversions
  WHERE event_category = 'purchase' GROUP BY 1
)
SELECT IF(e.user_id IS NULL, 'unexposed', 'exposed') AS exposure,
  COUNT(DISTINCT b.user_id) AS buyers, SUM(b.units) AS units
FROM buyers b
LEFT JOIN exposed e ON b.user_id = e.user_id
GROUP BY 1

-- query: conversions_with_relevance_halo | conversions | accepted
SELECT campaign, halo_code, SUM(conversions) AS conversions, COUNT(DISTINCT user_id) AS users
FROM conversions_with_relevance
GROUP BY 1, 2

-- query: conversions_with_relevance_items | conversions | accepted
WITH relevant AS (
  SELECT campaign_id_string, tracked_item, user_id, conversions
  FROM conversions_with_relevance
)
SELECT campaign_id_string, COUNT(DISTINCT tracked_item) AS items, SUM(conversions) AS conversions,
  COUNT(DISTINCT user_id) AS users
FROM relevant
GROUP BY 1

-- query: path_to_conversion | conversions | accepted
WITH touches AS (
  SELECT user_id, 'dsp' AS channel, impression_dt AS touched_at FROM dsp_impressions
  UNION ALL
  SELECT user_id, ad_product_type AS channel, event_dt AS touched_at
  FROM sponsored_ads_traffic WHERE clicks > 0
),
ordered AS (
  SELECT user_id, channel,
    ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY touched_at) AS touch_number
  FROM touches
),
paths AS (
  SELECT user_id, ARRAY_TO_STRING(ARRAY_SORT(COLLECT(DISTINCT channel)), ' > ') AS path
  FROM ordered WHERE touch_number <= 3 GROUP BY 1
),
buyers AS (
  SELECT user_id FROM amazon_attributed_events_by_conversion_time
  WHERE total_purchases > 0 GROUP BY 1
)
SELECT p.path, COUNT(DISTINCT p.user_id) AS users, COUNT(DISTINCT b.user_id) AS buyers
FROM paths p LEFT JOIN buyers b ON p.user_id = b.user_id
GROUP BY 1

-- query: cross_channel_overlap | conversions | accepted
WITH dsp AS (SELECT user_id FROM dsp_impressions GROUP BY 1),
sa AS (SELECT user_id FROM sponsored_ads_traffic GROUP BY 1),
segments AS (
  SELECT COALESCE(d.user_id, s.user_id) AS user_id,
    CASE WHEN d.user_id IS NOT NULL AND s.user_id IS NOT NULL THEN 'both'
      WHEN d.user_id IS NOT NULL THEN 'dsp_only' ELSE 'sa_only' END AS segment
  FROM dsp d FULL OUTER JOIN sa s ON d.user_id = s.user_id
),
buyers AS (
  SELECT user_id FROM amazon_attributed_events_by_conversion_time
  WHERE total_purchases > 0 GROUP BY 1
)
SELECT g.segment, COUNT(DISTINCT g.user_id) AS users, COUNT(DISTINCT b.user_id) AS buyers
FROM segments g LEFT JOIN buyers b ON g.user_id = b.user_id
GROUP BY 1

-- query: lifetime_value_cohorts | conversions | accepted
WITH first_purchase AS (
  SELECT user_id, MIN(event_date) AS cohort_date, SUM(total_product_sales) AS sales
  FROM conversions
  WHERE event_category = 'purchase'
  GROUP BY 1
)
SELECT DATE_TRUNC('WEEK', cohort_date) AS cohort_week, COUNT(DISTINCT user_id) AS customers,
  SUM(sales) AS sales, SUM(sales) / NULLIF(COUNT(DISTINCT user_id), 0) AS sales_per_customer
FROM first_purchase
GROUP BY 1

-- query: custom_parameter_campaigns | conversions | accepted
SELECT campaign, SUM(total_purchases) AS purchases, COUNT(DISTINCT user_id) AS purchasers
FROM amazon_attributed_events_by_traffic_time
WHERE ARRAY_CONTAINS(CUSTOM_PARAMETER('campaigns'), campaign)
  OR CARDINALITY(CUSTOM_PARAMETER('campaigns')) = 0
GROUP BY 1

-- query: built_in_window | conversions | accepted
SELECT BUILT_IN_PARAMETER('TIME_WINDOW_START') AS window_start,
  BUILT_IN_PARAMETER('TIME_WINDOW_END') AS window_end,
  SUM(conversions) AS conversions
FROM conversions
GROUP BY 1, 2

-- query: conversions_all_off_amazon | paid:conversions_all | accepted
SELECT event_type_class, event_category, SUM(conversions) AS conversions,
  COUNT(DISTINCT user_id) AS converters
FROM conversions_all
GROUP BY 1, 2

-- query: conversions_all_exposure | paid:conversions_all | accepted
WITH all_buyers AS (
  SELECT user_id, SUM(total_units_sold) AS units FROM conversions_all GROUP BY 1
),
exposed AS (SELECT user_id FROM sponsored_ads_traffic GROUP BY 1)
SELECT IF(e.user_id IS NULL, 'not_exposed', 'exposed') AS exposure,
  COUNT(DISTINCT a.user_id) AS buyers, SUM(a.units) AS units
FROM all_buyers a LEFT JOIN exposed e ON a.user_id = e.user_id
GROUP BY 1

-- query: segments_inmarket_overlap | paid:audience_segments | accepted
WITH members AS (
  SELECT user_id, segment_id FROM audience_segments_amer_inmarket GROUP BY 1, 2
),
exposed AS (SELECT user_id FROM dsp_impressions GROUP BY 1)
SELECT m.segment_id, COUNT(DISTINCT m.user_id) AS segment_users,
  COUNT(DISTINCT e.user_id) AS exposed_users
FROM members m LEFT JOIN exposed e ON m.user_id = e.user_id
GROUP BY 1

-- query: segments_lifestyle_metadata | paid:audience_segments | accepted
WITH members AS (
  SELECT user_id, segment_id, segment_marketplace_id FROM audience_segments_amer_lifestyle
),
names AS (
  SELECT segment_id, segment_marketplace_id, segment_name FROM segment_metadata
  GROUP BY 1, 2, 3
)
SELECT n.segment_name, COUNT(DISTINCT m.user_id) AS users
FROM members m
INNER JOIN names n
  ON m.segment_id = n.segment_id AND m.segment_marketplace_id = n.segment_marketplace_id
GROUP BY 1

-- query: segments_snapshot_sizes | paid:audience_segments | accepted
SELECT segment_id, COUNT(DISTINCT user_id) AS users
FROM audience_segments_eu_inmarket_snapshot
GROUP BY 1

-- query: your_garage_makes | paid:your_garage | accepted
SELECT garage_make, vehicle_type, COUNT(DISTINCT user_id) AS garage_users
FROM amazon_your_garage
GROUP BY 1, 2

-- query: your_garage_exposed | paid:your_garage | accepted
WITH garage AS (SELECT user_id, garage_make FROM amazon_your_garage GROUP BY 1, 2),
exposed AS (SELECT user_id FROM dsp_impressions GROUP BY 1)
SELECT g.garage_make, COUNT(DISTINCT g.user_id) AS owners, COUNT(DISTINCT e.user_id) AS exposed
FROM garage g LEFT JOIN exposed e ON g.user_id = e.user_id
GROUP BY 1

-- query: brand_store_page_views | paid:brand_store | accepted
SELECT page_title, COUNT(DISTINCT user_id) AS visitors, COUNT(1) AS page_views
FROM amazon_brand_store_page_views
GROUP BY 1

-- query: brand_store_dwell | paid:brand_store | accepted
WITH visits AS (
  SELECT user_id, SUM(dwell_time) AS dwell FROM amazon_brand_store_page_views GROUP BY 1
)
SELECT CASE WHEN dwell < 30 THEN 'short' WHEN dwell < 120 THEN 'medium' ELSE 'long' END
    AS dwell_bucket,
  COUNT(DISTINCT user_id) AS visitors
FROM visits
GROUP BY 1

-- query: brand_store_engagement | paid:brand_store | accepted
SELECT event_sub_type, COUNT(DISTINCT user_id) AS users, COUNT(1) AS events
FROM amazon_brand_store_engagement_events
GROUP BY 1

-- query: brand_store_then_purchase | paid:brand_store | accepted
WITH store AS (SELECT user_id FROM amazon_brand_store_page_views GROUP BY 1),
buyers AS (
  SELECT user_id FROM amazon_attributed_events_by_conversion_time
  WHERE total_purchases > 0 GROUP BY 1
)
SELECT IF(b.user_id IS NULL, 'no_purchase', 'purchased') AS outcome,
  COUNT(DISTINCT s.user_id) AS visitors
FROM store s LEFT JOIN buyers b ON s.user_id = b.user_id
GROUP BY 1

-- query: retail_purchases_by_asin | paid:retail_purchases | accepted
SELECT asin, SUM(purchase_units_sold) AS units, COUNT(DISTINCT user_id) AS customers
FROM amazon_retail_purchases
GROUP BY 1

-- query: retail_repeat_buyers | paid:retail_purchases | accepted
WITH per_user AS (
  SELECT user_id, COUNT(DISTINCT purchase_date_utc) AS purchase_days
  FROM amazon_retail_purchases
  GROUP BY 1
)
SELECT IF(purchase_days > 1, 'repeat', 'one_time') AS buyer_type,
  COUNT(DISTINCT user_id) AS customers
FROM per_user
GROUP BY 1

-- query: pvc_enrollments | paid:prime_video_channels | accepted
SELECT pv_offer_name, COUNT(DISTINCT user_id) AS subscribers
FROM amazon_pvc_enrollments
GROUP BY 1

-- query: pvc_streaming | paid:prime_video_channels | accepted
SELECT pv_gti_title_name, SUM(pv_seconds_viewed) AS seconds_viewed, COUNT(DISTINCT user_id) AS viewers
FROM amazon_pvc_streaming_events_feed
GROUP BY 1

-- query: experian_vehicles | paid:experian | accepted
SELECT new_or_used, COUNT(DISTINCT user_id) AS buyers
FROM experian_vehicle_purchases
GROUP BY 1

-- query: ncs_cpg_sales | paid:ncs_cpg | accepted
SELECT category, SUM(purchase_dollar_amount) AS sales, COUNT(DISTINCT user_id) AS households
FROM ncs_cpg_insights_stream
GROUP BY 1

-- query: audiences_twin_reach | audiences | accepted
SELECT campaign, COUNT(DISTINCT user_id) AS reach
FROM dsp_impressions_for_audiences
GROUP BY 1

-- query: audiences_twin_sponsored | audiences | accepted
SELECT ad_product_type, COUNT(DISTINCT user_id) AS reach
FROM sponsored_ads_traffic_for_audiences
GROUP BY 1

-- query: refused_limit | dsp | refused: LIMIT is not supported
SELECT campaign, SUM(impressions) AS impressions FROM dsp_impressions GROUP BY 1 LIMIT 10

-- query: refused_order_by | dsp | refused: ORDER BY is only supported inside window functions
SELECT campaign, SUM(impressions) AS impressions FROM dsp_impressions GROUP BY 1 ORDER BY 2 DESC

-- query: refused_right_join | conversions | refused: RIGHT JOIN is not supported
WITH exposed AS (SELECT user_id FROM dsp_impressions GROUP BY 1)
SELECT COUNT(DISTINCT c.user_id) AS buyers
FROM exposed e RIGHT JOIN conversions c ON e.user_id = c.user_id

-- query: refused_select_star | dsp | refused: SELECT * is not supported
SELECT * FROM dsp_impressions

-- query: refused_row_level | dsp | refused: AMC queries must aggregate
SELECT campaign, impression_dt FROM dsp_impressions

-- query: refused_user_id_out | dsp | refused: user_id cannot appear in the output
WITH u AS (SELECT user_id, SUM(impressions) AS impressions FROM dsp_impressions GROUP BY 1)
SELECT user_id, impressions FROM u

-- query: refused_postal_literal | dsp | refused: 'postal_code' has a HIGH aggregation threshold
SELECT COUNT(DISTINCT user_id) AS users FROM dsp_impressions WHERE postal_code = '98109'

-- query: refused_unknown_table | dsp | refused: Object 'dsp_impression' not found
SELECT COUNT(1) AS n FROM dsp_impression

-- query: refused_unknown_column | sponsored_ads | refused: Column 'search_term' not found
SELECT search_term, SUM(clicks) AS clicks FROM sponsored_ads_traffic GROUP BY 1
