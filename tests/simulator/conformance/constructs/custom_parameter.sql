SELECT
  campaign,
  SUM(impressions) AS impressions
FROM dsp_impressions
WHERE
  ARRAY_CONTAINS(CUSTOM_PARAMETER('campaigns'), campaign)
  OR CARDINALITY(CUSTOM_PARAMETER('campaigns')) = 0
GROUP BY
  1
