/* Reach per campaign,
   over two lines */
SELECT campaign, /* inline */ COUNT(DISTINCT user_id) AS reach FROM dsp_impressions GROUP BY 1
