SELECT
  campaign,
  COUNT(DISTINCT user_id) AS reach
FROM dsp_impressions
WHERE
  campaign SIMILAR TO '.*(Prospecting|Retargeting).*'
GROUP BY
  1
