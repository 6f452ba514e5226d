WITH c AS (
  SELECT
    campaign,
    SUM(impressions) AS impressions,
    COUNT(DISTINCT user_id) AS reach
  FROM dsp_impressions
  GROUP BY
    1
)
SELECT
  campaign,
  impressions,
  reach,
  RANK() OVER (ORDER BY impressions DESC) AS imp_rank,
  DENSE_RANK() OVER (ORDER BY reach) AS reach_rank,
  ROW_NUMBER() OVER (PARTITION BY reach > 0 ORDER BY campaign) AS rn,
  SUM(impressions) OVER () AS total
FROM c
