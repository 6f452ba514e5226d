WITH d AS (
  SELECT
    user_id
  FROM dsp_impressions
  GROUP BY
    1
), s AS (
  SELECT
    user_id
  FROM sponsored_ads_traffic
  GROUP BY
    1
)
SELECT
  CASE
    WHEN NOT d.user_id IS NULL AND NOT s.user_id IS NULL
    THEN 'both'
    WHEN NOT d.user_id IS NULL
    THEN 'dsp'
    ELSE 'sa'
  END AS segment,
  COUNT(DISTINCT COALESCE(d.user_id, s.user_id)) AS users
FROM d
FULL OUTER JOIN s
  ON d.user_id = s.user_id
GROUP BY
  1
