SELECT
  advertiser,
  ARRAY_SORT(COLLECT(DISTINCT device_type)) AS devices,
  CARDINALITY(COLLECT(DISTINCT site)) AS sites,
  ARRAY_TO_STRING(ARRAY_SORT(COLLECT(DISTINCT supply_source)), '|') AS supplies,
  ARRAY_CONTAINS(COLLECT(DISTINCT device_type), 'TV') AS has_tv,
  COUNT(DISTINCT user_id) AS reach
FROM dsp_impressions
GROUP BY 1
