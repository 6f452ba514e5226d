WITH t AS (
  SELECT user_id, 'dsp' AS channel FROM dsp_impressions
  UNION ALL
  SELECT user_id, ad_product_type AS channel FROM sponsored_ads_traffic
)
SELECT channel, COUNT(DISTINCT user_id) AS reach FROM t GROUP BY 1
