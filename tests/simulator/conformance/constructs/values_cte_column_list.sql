WITH dsp (campaign_id_string, campaign_group) AS (
  VALUES ('591000000000', 'A'), ('591000001013', 'B')
)
SELECT d.campaign_group, SUM(i.impressions) AS impressions, COUNT(DISTINCT i.user_id) AS reach
FROM dsp_impressions i INNER JOIN dsp d ON i.campaign_id_string = d.campaign_id_string
GROUP BY 1
