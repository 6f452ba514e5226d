-- severity: warn
-- KPI sanity: no negative total, no click-through or conversion rate outside 0..1.
select
    collection_id,
    week_start_date,
    ctr,
    cvr,
    impressions,
    clicks,
    spend_usd
from analytics.collection_weekly_kpis
where
    ctr not between 0 and 1
    or cvr not between 0 and 1
    or impressions < 0
    or clicks < 0
    or spend_usd < 0
    or purchases < 0
    or sales_usd < 0
