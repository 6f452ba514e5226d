SELECT campaign, SUM(impressions) AS impressions
FROM dsp_impressions
GROUP BY 1,
