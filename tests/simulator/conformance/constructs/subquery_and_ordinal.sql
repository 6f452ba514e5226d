SELECT
  bucket,
  COUNT(DISTINCT user_id) AS users
FROM (
  SELECT
    user_id,
    CASE WHEN SUM(impressions) >= 5 THEN '5+' ELSE CAST(SUM(impressions) AS STRING) END AS bucket
  FROM dsp_impressions
  GROUP BY
    user_id
) AS f
GROUP BY
  1
