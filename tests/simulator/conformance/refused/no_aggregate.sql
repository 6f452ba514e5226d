SELECT campaign FROM dsp_impressions
