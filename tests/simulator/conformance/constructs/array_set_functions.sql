WITH a AS (
  SELECT
    advertiser,
    COLLECT(DISTINCT device_type) AS d,
    COLLECT(DISTINCT site) AS s,
    COUNT(DISTINCT user_id) AS reach
  FROM dsp_impressions
  GROUP BY 1
)
SELECT
  advertiser,
  CARDINALITY(ARRAY_UNION(d, s)) AS n_union,
  CARDINALITY(ARRAY_INTERSECT(d, d)) AS n_both,
  CARDINALITY(ARRAY_COMPLEMENT(d, ARRAY('TV'))) AS n_not_tv,
  CARDINALITY(ARRAY_REMOVE(d, 'TV')) AS n_removed,
  CARDINALITY(ARRAY_DISTINCT(ARRAY_CAT(d, d))) AS n_cat,
  SUM(reach) AS reach
FROM a
GROUP BY 1, 2, 3, 4, 5, 6
