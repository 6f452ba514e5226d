SELECT
  campaign,
  SUM(IF(device_type = 'Phone', impressions, 0)) AS phone,
  SUM(CASE WHEN device_type = 'TV' THEN impressions ELSE 0 END) AS tv
FROM dsp_impressions
GROUP BY
  1
