SELECT user_id, COUNT(1) AS n FROM dsp_impressions GROUP BY 1
