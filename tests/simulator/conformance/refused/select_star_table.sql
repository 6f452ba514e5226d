SELECT * FROM dsp_impressions
