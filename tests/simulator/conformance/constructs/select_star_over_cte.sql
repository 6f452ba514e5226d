WITH t AS (
  SELECT
    campaign,
    COUNT(DISTINCT user_id) AS reach
  FROM dsp_impressions
  GROUP BY
    1
)
SELECT
  *
FROM t
