-- Table macros that generate the simulator's advertising data inside DuckDB.
-- Every row is a pure function of (seed, UTC day, row index): no state, no Python loops.
-- Rows are compact (indexes into the dimension tables of dimensions.sql); the views of
-- views.sql turn them into AMC's columns.

-- The hash of row `i` of a day. DuckDB's multi-argument hash() mixes its arguments weakly
-- (hash(i, 1) and hash(i, 2) are correlated), so every combination goes through hash() again.
create or replace macro sim_row_hash(i, day_number, seed) as
    hash(xor(hash(i), hash(cast(day_number as bigint) * 1000003 + seed)));

-- Independent 64-bit draws of one row, one per stream.
create or replace macro sim_h(row_hash, stream) as hash(xor(row_hash, stream));

-- A uniform in [0, 1) from the 53 high bits of a draw.
create or replace macro sim_u(row_hash, stream) as
    (sim_h(row_hash, stream) >> 11) / 9007199254740992.0;

-- Uniforms in [0, 1) sliced from one 64-bit draw (hashing is the cost of generation, so one
-- draw feeds several columns): the k-th 16-bit, 21-bit or 32-bit slice.
create or replace macro sim_u16(draw, k) as ((draw >> (16 * k)) & 65535) / 65536.0;

create or replace macro sim_u21(draw, k) as ((draw >> (21 * k)) & 2097151) / 2097152.0;

create or replace macro sim_u32(draw, k) as ((draw >> (32 * k)) & 4294967295) / 4294967296.0;

-- The opaque user id of a user index: 44 bits in 11 hex digits, short enough for DuckDB to keep
-- the strings inline (fast COUNT(DISTINCT user_id)), long enough that users never collide.
create or replace macro sim_user_id(user_idx, seed) as lower(to_hex(hash(user_idx, seed) >> 20));

-- Offset from midnight UTC of an event whose time of day is a bell centred on `peak`
-- (a fraction of the day): audiences in the Americas peak around 01:00 UTC.
create or replace macro sim_time_of_day(a, b, c, peak) as
    to_microseconds(cast(floor(86400000000 * (((a + b + c) / 3 + peak + 0.5) % 1)) as bigint));

-- The row index of the click in block `c` of `block` impressions: exactly one click a block.
create or replace macro sim_click_index(c, day_number, seed, block) as
    c * block + cast(sim_h(sim_row_hash(c, day_number, seed), 13) % block as bigint);

-- Row indexes of a day: all of them (kind 0), `sample_n` random ones (kind 1), or `sample_n`
-- random clicks (kind 2), each with its draw number j.
create or replace macro sim_keys(day_number, seed, n, block, sample_kind, sample_n) as table
select
    j,
    case sample_kind
        when 0 then j
        when 1 then cast(floor(sim_u(sim_row_hash(j, day_number, seed), 40) * n) as bigint)
        else sim_click_index(
            cast(floor(sim_u(sim_row_hash(j, day_number, seed), 41) * (n // block)) as bigint),
            day_number, seed, block
        )
    end as i
from range(case when sample_kind = 0 then n else sample_n end) as r (j);

-- The keys of sim_keys with each row's hash.
create or replace macro sim_hashed_keys(day_number, seed, n, block, sample_kind, sample_n) as table
select
    j,
    i,
    sim_row_hash(i, day_number, seed) as h
from sim_keys(day_number, seed, n, block, sample_kind, sample_n);

-- Amazon DSP impressions of one UTC day (clicks are flagged on their impression). DSP reaches
-- the first 70% of users, sponsored ads the last 70%, each favouring the low end of its range:
-- audiences overlap without coinciding.
create or replace macro sim_dsp_rows(
    day, day_number, seed, users, n, block, sample_kind, sample_n
) as table
with hashed as (
    select
        k.j,
        k.i,
        sim_h(k.h, 1) as d_time,
        sim_h(k.h, 2) as d_who,
        sim_h(k.h, 3) as d_where,
        sim_h(k.h, 4) as d_cost
    from sim_hashed_keys(day_number, seed, n, block, sample_kind, sample_n) as k
),

draws as (
    select
        j,
        i,
        sim_u21(d_time, 0) as u1,
        sim_u21(d_time, 1) as u2,
        sim_u21(d_time, 2) as u3,
        sim_u32(d_who, 1) as u_user,
        sim_u16(d_who, 0) as u_campaign,
        sim_u16(d_who, 1) as u_line_item,
        sim_u16(d_where, 3) as u_creative,
        sim_u16(d_where, 0) as u_device,
        sim_u16(d_where, 1) as u_supply,
        sim_u16(d_where, 2) as u_site,
        sim_u32(d_cost, 1) as u_postal,
        sim_u16(d_cost, 0) as u_cost,
        sim_u16(d_cost, 1) as u_click_delay,
        sim_u16(d_who, 2) as u_click_cost
    from hashed
),

shaped as (
    select
        j,
        i,
        cast(day as timestamp) + sim_time_of_day(u1, u2, u3, 0.04) as ts,
        cast(floor(users * 0.7 * pow(u_user, 1.7)) as bigint) as user_idx,
        cast(floor(12 * pow(u_campaign, 1.25)) as integer) as campaign_idx,
        cast(floor(3 * u_line_item) as integer) as line_item_pos,
        cast(floor(2 * u_creative) as integer) as creative_pos,
        case
            when u_device < 0.45 then 0
            when u_device < 0.70 then 1
            when u_device < 0.90 then 2
            else 3
        end as device_idx,
        case when u_supply < 0.55 then 0 when u_supply < 0.80 then 1 else 2 end as supply_idx,
        cast(floor(12 * pow(u_site, 1.6)) as integer) as site_idx,
        cast(1 + floor(99998 * pow(u_postal, 2.2)) as integer) as postal,
        u_cost,
        i % block = cast(sim_h(sim_row_hash(i // block, day_number, seed), 13) % block as bigint)
        and i // block < n // block as is_click,
        u_click_delay,
        u_click_cost
    from draws
)

select
    j,
    i,
    ts,
    sim_user_id(user_idx, seed) as user_id,
    campaign_idx * 6 + line_item_pos * 2 + creative_pos as creative_idx,
    device_idx,
    supply_idx,
    site_idx,
    postal,
    cast(250 + floor(900 * u_cost) + case when device_idx = 2 then 1200 else 0 end as bigint)
        as total_cost,
    case when is_click then cast(2 + floor(600 * pow(u_click_delay, 3)) as integer) end
        as click_delay_seconds,
    case
        when is_click and line_item_pos = 2 then cast(20000 + floor(100000 * u_click_cost) as bigint)
        when is_click then cast(0 as bigint)
    end as click_cost
from shaped;

-- Sponsored ads impressions of one UTC day (clicks are flagged on their impression).
-- Campaign c of advertiser c // 8 is, by c % 8: 0-2 products, 3-4 brands, 5-6 display,
-- 7 television (which is never clicked).
create or replace macro sim_sa_rows(
    day, day_number, seed, users, n, block, sample_kind, sample_n
) as table
with hashed as (
    select
        k.j,
        k.i,
        sim_h(k.h, 21) as d_time,
        sim_h(k.h, 22) as d_who,
        sim_h(k.h, 23) as d_where,
        sim_h(k.h, 24) as d_cost
    from sim_hashed_keys(day_number, seed, n, block, sample_kind, sample_n) as k
),

draws as (
    select
        j,
        i,
        sim_u21(d_time, 0) as u1,
        sim_u21(d_time, 1) as u2,
        sim_u21(d_time, 2) as u3,
        sim_u32(d_who, 1) as u_user,
        sim_u16(d_who, 0) as u_campaign,
        sim_u16(d_who, 1) as u_ad_group,
        sim_u16(d_where, 0) as u_targeting,
        sim_u16(d_where, 1) as u_term,
        sim_u16(d_where, 2) as u_placement,
        sim_u16(d_cost, 0) as u_spend,
        sim_u16(d_cost, 1) as u_click_delay,
        sim_u32(d_cost, 1) as u_cpc
    from hashed
),

shaped as (
    select
        j,
        i,
        cast(day as timestamp) + sim_time_of_day(u1, u2, u3, 0.06) as ts,
        cast(floor(users * (0.3 + 0.7 * pow(u_user, 1.5))) as bigint) as user_idx,
        cast(floor(24 * pow(u_campaign, 1.15)) as integer) as sa_campaign_idx,
        cast(floor(2 * u_ad_group) as integer) as ad_group_pos,
        cast(floor(6 * pow(u_targeting, 1.3)) as integer) as targeting_idx,
        cast(floor(30 * pow(u_term, 1.8)) as integer) as term_idx,
        cast(floor(3 * pow(u_placement, 1.2)) as integer) as placement_idx,
        u_spend,
        i % block = cast(sim_h(sim_row_hash(i // block, day_number, seed), 13) % block as bigint)
        and i // block < n // block as is_block_click,
        u_click_delay,
        u_cpc
    from draws
)

select
    j,
    i,
    ts,
    sim_user_id(user_idx, seed) as user_id,
    sa_campaign_idx,
    ad_group_pos,
    targeting_idx,
    term_idx,
    placement_idx,
    case when sa_campaign_idx % 8 = 7 then cast(1500000 + floor(1500000 * u_spend) as bigint)
        else cast(0 as bigint)
    end as impression_spend,
    case when is_block_click and sa_campaign_idx % 8 <> 7
        then cast(1 + floor(300 * pow(u_click_delay, 3)) as integer)
    end as click_delay_seconds,
    cast(50000000 + floor(200000000 * u_cpc) as bigint) as click_spend
from shaped;

-- Traffic that converted on one UTC traffic day: view-throughs of DSP impressions, DSP clicks
-- and sponsored ads clicks, before the conversion details are drawn.
create or replace macro sim_converting_traffic(
    day, day_number, seed, users, n_dsp, dsp_block, n_sa, sa_block, n_view, n_dsp_click, n_sa_click
) as table
select
    j,
    0 as source,
    ts as traffic_ts,
    user_id,
    creative_idx // 6 as campaign_key,
    'AD_IMP' as traffic_event_subtype
from sim_dsp_rows(day, day_number, seed, users, n_dsp, dsp_block, 1, n_view)
union all
select
    j,
    1 as source,
    ts + to_seconds(click_delay_seconds) as traffic_ts,
    user_id,
    creative_idx // 6 as campaign_key,
    'AD_CLICK' as traffic_event_subtype
from sim_dsp_rows(day, day_number, seed, users, n_dsp, dsp_block, 2, n_dsp_click)
where click_delay_seconds is not null
union all
select
    j,
    2 as source,
    ts + to_seconds(click_delay_seconds) as traffic_ts,
    user_id,
    100 + sa_campaign_idx as campaign_key,
    'AD_CLICK' as traffic_event_subtype
from sim_sa_rows(day, day_number, seed, users, n_sa, sa_block, 2, n_sa_click)
where click_delay_seconds is not null;

-- Attributed conversions of one UTC traffic day: a conversion up to 14 days after its traffic.
create or replace macro sim_attributed_rows(
    day, day_number, seed, users, n_dsp, dsp_block, n_sa, sa_block, n_view, n_dsp_click, n_sa_click
) as table
with traffic as (
    select
        t.*,
        sim_row_hash(t.j * 3 + t.source, day_number, seed) as h,
        c.advertiser_idx
    from sim_converting_traffic(
        day, day_number, seed, users, n_dsp, dsp_block, n_sa, sa_block,
        n_view, n_dsp_click, n_sa_click
    ) as t
    inner join sim.campaigns as c on t.campaign_key = c.campaign_key
),

draws as (
    select
        traffic.*,
        sim_u(h, 50) as u_delay,
        sim_u(h, 53) as u_category,
        sim_u(h, 56) as u_asin,
        sim_u(h, 59) as u_units,
        sim_u(h, 62) as u_ntb
    from traffic
)

select
    traffic_ts,
    traffic_ts + to_seconds(cast(60 + floor(1209600 * pow(u_delay, 3)) as bigint))
        as conversion_ts,
    user_id,
    campaign_key,
    traffic_event_subtype,
    advertiser_idx * 5 + cast(floor(5 * pow(u_asin, 1.3)) as integer) as asin_idx,
    case when u_category < 0.45 then 0 when u_category < 0.80 then 1 else 2 end as category,
    cast(1 + floor(3 * pow(u_units, 2)) as integer) as units,
    u_ntb < 0.4 as new_to_brand,
    sim_h(h, 70) as conversion_key
from draws;

-- Conversions of one UTC day that no ad is credited with.
create or replace macro sim_organic_rows(day, day_number, seed, users, n) as table
with hashed as (
    select
        j,
        sim_row_hash(j, day_number, seed) as h
    from range(n) as r (j)
),

draws as (
    select
        j,
        h,
        sim_u(h, 81) as u1,
        sim_u(h, 82) as u2,
        sim_u(h, 83) as u3,
        sim_u(h, 84) as u_user,
        sim_u(h, 85) as u_asin,
        sim_u(h, 86) as u_category,
        sim_u(h, 87) as u_units,
        sim_u(h, 88) as u_ntb
    from hashed
)

select
    cast(day as timestamp) + sim_time_of_day(u1, u2, u3, 0.08) as ts,
    sim_user_id(cast(floor(users * u_user) as bigint), seed) as user_id,
    cast(floor(15 * pow(u_asin, 1.2)) as integer) as asin_idx,
    case when u_category < 0.5 then 0 when u_category < 0.8 then 1 else 2 end as category,
    cast(1 + floor(3 * pow(u_units, 2)) as integer) as units,
    u_ntb < 0.35 as new_to_brand,
    sim_h(h, 89) as conversion_key
from draws
