SELECT COUNT(DISTINCT user_id) AS users FROM dsp_impressions
WHERE postal_code = '10001'
