-- The generated base views of the AMC tables as one execution sees them (sources.py builds
-- every AMC table over one of them): generated rows of the days its window touches,
-- cut to the window (UTC instants [lo, hi)), with local times in the execution's time zone.
-- Placeholders in braces are filled by data.py with fragments it builds itself: {source} a
-- union of cached day tables or generator calls, {lo} {hi} {clock} {history} timestamp
-- literals, {local:x} the local time of the UTC timestamp x.

-- view: dsp_impressions
create or replace temp view __base_dsp_impressions as
select
    adv.advertiser,
    adv.advertiser_id,
    cmp.campaign,
    cmp.campaign_id,
    cre.line_item,
    cre.line_item_id,
    cre.creative,
    cre.creative_id,
    dev.label as device_type,
    sup.label as supply_source,
    site.label as site,
    lpad(cast(imp.postal as varchar), 5, '0') as postal_code,
    {local:imp.ts} as impression_dt,
    imp.ts as impression_dt_utc,
    cast({local:imp.ts} as date) as impression_date,
    cast(imp.ts as date) as impression_date_utc,
    cast(1 as bigint) as impressions,
    imp.total_cost,
    imp.user_id as user_id
from ({source}) as imp
inner join sim.creatives as cre on imp.creative_idx = cre.creative_idx
inner join sim.campaigns as cmp on cre.campaign_key = cmp.campaign_key
inner join sim.advertisers as adv on cmp.advertiser_idx = adv.advertiser_idx
inner join sim.labels as dev on dev.kind = 'device' and imp.device_idx = dev.idx
inner join sim.labels as sup on sup.kind = 'supply' and imp.supply_idx = sup.idx
inner join sim.labels as site on site.kind = 'site' and imp.site_idx = site.idx
where imp.ts >= {lo} and imp.ts < {hi}

-- view: dsp_clicks
create or replace temp view __base_dsp_clicks as
with clicks as (
    select
        imp.*,
        imp.ts + to_seconds(imp.click_delay_seconds) as click_ts
    from ({source}) as imp
    where imp.click_delay_seconds is not null
)

select
    adv.advertiser,
    adv.advertiser_id,
    cmp.campaign,
    cmp.campaign_id,
    cre.line_item,
    cre.line_item_id,
    cre.creative,
    cre.creative_id,
    dev.label as device_type,
    sup.label as supply_source,
    site.label as site,
    lpad(cast(clk.postal as varchar), 5, '0') as postal_code,
    {local:clk.click_ts} as click_dt,
    clk.click_ts as click_dt_utc,
    cast({local:clk.click_ts} as date) as click_date,
    cast(clk.click_ts as date) as click_date_utc,
    {local:clk.ts} as impression_dt,
    clk.ts as impression_dt_utc,
    cast({local:clk.ts} as date) as impression_date,
    cast(clk.ts as date) as impression_date_utc,
    cast(1 as bigint) as clicks,
    clk.click_cost,
    clk.user_id as user_id
from clicks as clk
inner join sim.creatives as cre on clk.creative_idx = cre.creative_idx
inner join sim.campaigns as cmp on cre.campaign_key = cmp.campaign_key
inner join sim.advertisers as adv on cmp.advertiser_idx = adv.advertiser_idx
inner join sim.labels as dev on dev.kind = 'device' and clk.device_idx = dev.idx
inner join sim.labels as sup on sup.kind = 'supply' and clk.supply_idx = sup.idx
inner join sim.labels as site on site.kind = 'site' and clk.site_idx = site.idx
where clk.click_ts >= {lo} and clk.click_ts < {hi} and clk.ts >= {history}

-- view: sponsored_ads_traffic
create or replace temp view __base_sponsored_ads_traffic as
with events as (
    select
        sa.*,
        sa.ts as event_ts,
        cast(1 as bigint) as impressions,
        cast(0 as bigint) as clicks,
        sa.impression_spend as spend
    from ({source}) as sa
    union all
    select
        sa.*,
        sa.ts + to_seconds(sa.click_delay_seconds) as event_ts,
        cast(0 as bigint) as impressions,
        cast(1 as bigint) as clicks,
        sa.click_spend as spend
    from ({source}) as sa
    where sa.click_delay_seconds is not null
)

select
    cmp.ad_product_type,
    cmp.campaign,
    cmp.campaign_id,
    grp.ad_group,
    grp.ad_group_id,
    tgt.targeting,
    tgt.match_type,
    case
        when cmp.ad_product_type in ('sponsored_products', 'sponsored_brands')
            then trm.customer_search_term
    end as customer_search_term,
    plc.placement_type,
    {local:ev.event_ts} as event_dt,
    ev.event_ts as event_dt_utc,
    cast({local:ev.event_ts} as date) as event_date,
    cast(ev.event_ts as date) as event_date_utc,
    ev.impressions,
    ev.clicks,
    ev.spend,
    ev.user_id as user_id
from events as ev
inner join sim.campaigns as cmp on cmp.campaign_key = 100 + ev.sa_campaign_idx
inner join sim.ad_groups as grp
    on ev.sa_campaign_idx = grp.sa_campaign_idx and ev.ad_group_pos = grp.ad_group_pos
inner join sim.targets as tgt
    on ev.sa_campaign_idx = tgt.sa_campaign_idx and ev.targeting_idx = tgt.targeting_idx
inner join sim.search_terms as trm
    on cmp.advertiser_idx = trm.advertiser_idx and ev.term_idx = trm.term_idx
inner join sim.placements as plc
    on cmp.ad_product_type = plc.ad_product_type and ev.placement_idx = plc.placement_idx
where ev.event_ts >= {lo} and ev.event_ts < {hi} and ev.ts >= {history}

-- view: attributed
create or replace temp view __base_{name} as
select
    cmp.ad_product_type,
    adv.advertiser,
    adv.advertiser_id,
    cmp.campaign,
    cmp.campaign_id,
    asn.tracked_asin,
    cat.event_category as conversion_event_category,
    cat.event_subtype as conversion_event_subtype,
    {local:att.conversion_ts} as conversion_event_dt,
    att.conversion_ts as conversion_event_dt_utc,
    cast({local:att.conversion_ts} as date) as conversion_event_date,
    cast(att.conversion_ts as date) as conversion_event_date_utc,
    {local:att.traffic_ts} as traffic_event_dt,
    att.traffic_ts as traffic_event_dt_utc,
    cast({local:att.traffic_ts} as date) as traffic_event_date,
    cast(att.traffic_ts as date) as traffic_event_date_utc,
    att.traffic_event_subtype,
    cast(1 as bigint) as conversions,
    cast(att.category = 0 as bigint) as purchases,
    case when att.category = 0 then round(att.units * asn.price, 2) else 0.0 end as product_sales,
    case when att.category = 0 then cast(att.units as bigint) else 0 end as units_sold,
    cast(att.category = 0 as bigint) as total_purchases,
    case when att.category = 0 then round(att.units * asn.price, 2) else 0.0 end
        as total_product_sales,
    case when att.category = 0 then cast(att.units as bigint) else 0 end as total_units_sold,
    att.category = 0 and att.new_to_brand as new_to_brand,
    cast(att.category = 0 and att.new_to_brand as bigint) as new_to_brand_purchases,
    case when att.category = 0 and att.new_to_brand then round(att.units * asn.price, 2)
        else 0.0
    end as new_to_brand_product_sales,
    case when att.category = 0 and att.new_to_brand then cast(att.units as bigint) else 0 end
        as new_to_brand_units_sold,
    cast(att.category = 1 as bigint) as detail_page_view,
    cast(att.category = 2 as bigint) as add_to_cart,
    att.user_id as user_id
from ({source}) as att
inner join sim.campaigns as cmp on att.campaign_key = cmp.campaign_key
inner join sim.advertisers as adv on cmp.advertiser_idx = adv.advertiser_idx
inner join sim.asins as asn on att.asin_idx = asn.asin_idx
inner join sim.categories as cat on att.category = cat.category
where
    att.{window_column} >= {lo} and att.{window_column} < {hi}
    and att.conversion_ts < {clock} and att.traffic_ts >= {history}

-- view: conversions
create or replace temp view __base_conversions as
with events as (
    select
        'o' || lower(hex(org.conversion_key)) as conversion_id,
        org.ts,
        org.user_id,
        org.asin_idx,
        org.category,
        org.units,
        org.new_to_brand
    from ({organic_source}) as org
    where org.ts >= {lo} and org.ts < {hi}
    union all
    select
        'a' || lower(hex(att.conversion_key)) as conversion_id,
        att.conversion_ts as ts,
        att.user_id,
        att.asin_idx,
        att.category,
        att.units,
        att.new_to_brand
    from ({attributed_source}) as att
    where
        att.conversion_ts >= {lo} and att.conversion_ts < {hi}
        and att.traffic_ts >= {history}
)

select
    ev.conversion_id,
    {local:ev.ts} as event_dt,
    ev.ts as event_dt_utc,
    cast({local:ev.ts} as date) as event_date,
    cast(ev.ts as date) as event_date_utc,
    cat.event_category,
    cat.event_subtype,
    asn.tracked_asin,
    cast(1 as bigint) as conversions,
    case when ev.category = 0 then round(ev.units * asn.price, 2) else 0.0 end
        as total_product_sales,
    case when ev.category = 0 then cast(ev.units as bigint) else 0 end as total_units_sold,
    ev.category = 0 and ev.new_to_brand as new_to_brand,
    ev.user_id as user_id
from events as ev
inner join sim.asins as asn on ev.asin_idx = asn.asin_idx
inner join sim.categories as cat on ev.category = cat.category
