SELECT
  LOWER(campaign) AS lc,
  UPPER(LEFT(campaign, 3)) AS prefix,
  LENGTH(campaign) AS len,
  CONCAT(advertiser, ' / ', line_item) AS label,
  REPLACE(campaign, '|', '-') AS dashed,
  SUBSTRING(campaign, 1, 5) AS sub,
  TRIM(' x ') AS t,
  STRPOS(campaign, 'DSP') AS pos,
  INSTR(campaign, 'DSP') AS pos2,
  REGEXP_REPLACE(campaign, '[0-9]', '#') AS rr,
  SPLIT(campaign, ' | ')[0] AS first_part,
  COUNT(DISTINCT user_id) AS reach
FROM dsp_impressions
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
