SELECT
  COALESCE(ad_product_type, 'dsp') AS product,
  NVL(ad_product_type, 'dsp') AS p2,
  NULLIF(ad_product_type, 'sponsored_products') AS p3,
  NVL2(ad_product_type, 'sa', 'dsp') AS p4,
  IFNULL(ad_product_type, 'dsp') AS p5,
  SUM(conversions) AS conversions
FROM amazon_attributed_events_by_conversion_time
GROUP BY 1, 2, 3, 4, 5
