-- The small dimension tables the generated rows point into; filled from data.py's lists.

create schema if not exists sim;

create schema if not exists cache;

create or replace table sim.advertisers (
    advertiser_idx integer primary key,
    advertiser_id bigint,
    advertiser varchar
);

create or replace table sim.campaigns (
    campaign_key integer primary key,
    advertiser_idx integer,
    ad_product_type varchar,
    campaign_id bigint,
    campaign varchar
);

create or replace table sim.creatives (
    creative_idx integer primary key,
    campaign_key integer,
    line_item_id bigint,
    line_item varchar,
    creative_id bigint,
    creative varchar
);

create or replace table sim.ad_groups (
    sa_campaign_idx integer,
    ad_group_pos integer,
    ad_group_id bigint,
    ad_group varchar
);

create or replace table sim.targets (
    sa_campaign_idx integer,
    targeting_idx integer,
    targeting varchar,
    match_type varchar
);

create or replace table sim.search_terms (
    advertiser_idx integer,
    term_idx integer,
    customer_search_term varchar
);

create or replace table sim.placements (
    ad_product_type varchar,
    placement_idx integer,
    placement_type varchar
);

create or replace table sim.asins (
    asin_idx integer primary key,
    advertiser_idx integer,
    tracked_asin varchar,
    price double
);

create or replace table sim.labels (
    kind varchar,
    idx integer,
    label varchar
);

create or replace table sim.categories (
    category integer primary key,
    event_category varchar,
    event_subtype varchar
)
