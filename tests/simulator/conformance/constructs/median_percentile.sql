SELECT
  campaign,
  MEDIAN(total_cost) AS median_cost,
  PERCENTILE(total_cost, 0.9) AS p90_cost,
  APPROX_PERCENTILE(total_cost, 0.5) AS approx_median,
  STDDEV(total_cost) AS sd,
  VAR_POP(total_cost) AS vp,
  COUNT(DISTINCT user_id) AS reach
FROM dsp_impressions
GROUP BY
  1
