SELECT a.campaign, COUNT(1) AS n FROM dsp_impressions a
RIGHT JOIN dsp_clicks b ON a.user_id = b.user_id GROUP BY 1
