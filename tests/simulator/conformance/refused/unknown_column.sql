SELECT SUM(five_sec_view) AS n FROM sponsored_ads_traffic
