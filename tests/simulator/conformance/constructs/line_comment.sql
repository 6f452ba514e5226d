-- reach per campaign
SELECT campaign, COUNT(DISTINCT user_id) AS reach -- users
FROM dsp_impressions GROUP BY 1
