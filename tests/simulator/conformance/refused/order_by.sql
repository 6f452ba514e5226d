SELECT campaign, SUM(impressions) AS i FROM dsp_impressions GROUP BY 1
ORDER BY 2
