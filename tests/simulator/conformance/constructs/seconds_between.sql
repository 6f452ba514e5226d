SELECT
  campaign,
  SUM(
    IF(
      SECONDS_BETWEEN(traffic_event_dt_utc, conversion_event_dt_utc) <= 60 * 60 * 24 * 7,
      total_purchases,
      0
    )
  ) AS purchases_7d,
  AVG(SECONDS_BETWEEN(traffic_event_dt_utc, conversion_event_dt_utc)) AS avg_seconds
FROM amazon_attributed_events_by_traffic_time
GROUP BY
  1
