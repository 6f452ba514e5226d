SELECT
  BUILT_IN_PARAMETER('TIME_WINDOW_START') AS window_start,
  BUILT_IN_PARAMETER('TIME_WINDOW_END') AS window_end,
  SUM(impressions) AS impressions
FROM dsp_impressions
GROUP BY
  1,
  2
