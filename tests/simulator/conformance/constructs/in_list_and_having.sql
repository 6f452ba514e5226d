SELECT
  device_type,
  COUNT(DISTINCT user_id) AS reach
FROM dsp_impressions
WHERE
  device_type IN ('Phone', 'TV')
GROUP BY
  1
HAVING
  COUNT(DISTINCT user_id) > 0
