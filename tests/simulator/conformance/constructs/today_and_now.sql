SELECT
  CAST('today' AS DATE) >= impression_date AS before_today,
  CAST('now' AS TIMESTAMP) >= impression_dt AS before_now,
  CURRENT_DATE >= impression_date AS cd,
  EPOCH_TO_UTC_TIMESTAMP(1700000000) AS epoch_ts,
  COUNT(DISTINCT user_id) AS reach
FROM dsp_impressions
GROUP BY
  1,
  2,
  3,
  4
