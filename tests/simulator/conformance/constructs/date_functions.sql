SELECT
  DATE_TRUNC('WEEK', impression_dt) AS week_start,
  EXTRACT(HOUR FROM impression_dt) AS hour_of_day,
  DAYOFWEEK(impression_dt) AS dow,
  DAYOFMONTH(impression_dt) AS dom,
  MONTH(impression_dt) AS m,
  YEAR(impression_dt) AS y,
  HOUR(impression_dt) AS h,
  MINUTE(MIN(impression_dt)) AS first_minute,
  CONVERT_TIME_ZONE_FROM_UTC(MIN(impression_dt_utc), 'America/New_York') AS first_local,
  COUNT(DISTINCT user_id) AS reach
FROM dsp_impressions
GROUP BY
  1,
  2,
  3,
  4,
  5,
  6,
  7
