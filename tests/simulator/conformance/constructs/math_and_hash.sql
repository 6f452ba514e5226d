SELECT
  campaign,
  ROUND(SUM(total_cost) / 100000.0, 2) AS cost_usd,
  CEIL(AVG(total_cost)) AS c,
  FLOOR(AVG(total_cost)) AS f,
  ABS(-1) AS a,
  POWER(2, 3) AS p,
  SQRT(16) AS s,
  LN(E()) AS one,
  LOG10(100) AS two,
  MD5(campaign) AS md5,
  SHA1(campaign) AS sha1,
  HASH64(campaign) AS h64,
  GREATEST(1, 2) AS g,
  LEAST(1, 2) AS l,
  COUNT(DISTINCT user_id) AS reach
FROM dsp_impressions
GROUP BY 1
