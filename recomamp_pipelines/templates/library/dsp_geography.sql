-- DSP geography: delivery and reach of each campaign by country and state or province
-- (postal codes and cities are HIGH-threshold columns, left out).
with impressions as (
    select
        campaign,
        iso_country_code,
        iso_state_province_code,
        impressions,
        total_cost,
        user_id
    from dsp_impressions
    where
        cardinality(CUSTOM_PARAMETER('campaigns')) = 0
        or array_contains(CUSTOM_PARAMETER('campaigns'), campaign)
)

select
    campaign,
    iso_country_code,
    iso_state_province_code,
    sum(impressions) as impressions,
    count(distinct user_id) as reach,
    sum(total_cost) / 100000.0 as spend_usd
from impressions
group by 1, 2, 3
