-- One row per collection and week: the week's status, rows and metric totals, the KPIs built from
-- them (null where the result lacks an input or a denominator is zero) and each metric's change
-- from the collection's previous week. The totals are the week's summary_stats, which the ingest
-- computes from the rows it loads (a data test checks them against the results rows): a refresh
-- reads one row a week, not every result row. Stored incrementally: a refresh recomputes the
-- collections whose weeks or definition changed since (source_updated_at tells).
{{ config(
    materialized='incremental',
    unique_key=['collection_id', 'week_start_date'],
    partition_by='collection_id',
    version_column='source_updated_at'
) }}
with

collections as (
    select * from analytics.stg_collections
),

weeks as (
    select * from analytics.stg_collection_weeks
),

weekly as (
    select
        weeks.collection_id,
        collections.collection_name,
        collections.user_id,
        collections.template_key,
        weeks.week_start_date,
        weeks.week_end_date,
        weeks.week_status,
        weeks.is_published,
        coalesce(weeks.stats_row_count, 0) as result_rows,
        weeks.impressions,
        weeks.clicks,
        weeks.spend_usd,
        weeks.purchases,
        weeks.sales_usd,
        weeks.units_sold,
        weeks.new_to_brand_sales_usd,
        greatest(
            weeks.updated_at,
            collections.updated_at,
            collections.workflow_updated_at,
            collections.template_updated_at
        ) as source_updated_at,
        analytics.safe_divide(weeks.clicks, weeks.impressions) as ctr,
        analytics.safe_divide(weeks.spend_usd, weeks.clicks) as cpc_usd,
        analytics.safe_divide(weeks.spend_usd, weeks.impressions) * 1000 as cpm_usd,
        analytics.safe_divide(weeks.purchases, weeks.clicks) as cvr,
        analytics.safe_divide(weeks.spend_usd, weeks.sales_usd) as acos,
        analytics.safe_divide(weeks.sales_usd, weeks.spend_usd) as roas,
        analytics.safe_divide(weeks.new_to_brand_sales_usd, weeks.sales_usd)
            as new_to_brand_sales_share
    from weeks
    inner join collections on collections.collection_id = weeks.collection_id
),

previous as (
    select
        weekly.*,
        lag(weekly.week_start_date) over collection_weeks as previous_week_start_date,
        lag(weekly.impressions) over collection_weeks as previous_impressions,
        lag(weekly.clicks) over collection_weeks as previous_clicks,
        lag(weekly.spend_usd) over collection_weeks as previous_spend_usd,
        lag(weekly.purchases) over collection_weeks as previous_purchases,
        lag(weekly.sales_usd) over collection_weeks as previous_sales_usd,
        lag(weekly.units_sold) over collection_weeks as previous_units_sold,
        lag(weekly.ctr) over collection_weeks as previous_ctr,
        lag(weekly.cpc_usd) over collection_weeks as previous_cpc_usd,
        lag(weekly.cpm_usd) over collection_weeks as previous_cpm_usd,
        lag(weekly.cvr) over collection_weeks as previous_cvr,
        lag(weekly.acos) over collection_weeks as previous_acos,
        lag(weekly.roas) over collection_weeks as previous_roas,
        lag(weekly.new_to_brand_sales_share) over collection_weeks
            as previous_new_to_brand_sales_share
    from weekly
    window collection_weeks as (partition by weekly.collection_id order by weekly.week_start_date)
),

final as (
    select
        previous.collection_id,
        previous.collection_name,
        previous.user_id,
        previous.template_key,
        previous.week_start_date,
        previous.week_end_date,
        previous.week_status,
        previous.is_published,
        previous.result_rows,
        previous.impressions,
        previous.clicks,
        previous.spend_usd,
        previous.purchases,
        previous.sales_usd,
        previous.units_sold,
        previous.new_to_brand_sales_usd,
        previous.ctr,
        previous.cpc_usd,
        previous.cpm_usd,
        previous.cvr,
        previous.acos,
        previous.roas,
        previous.new_to_brand_sales_share,
        previous.previous_week_start_date,
        previous.source_updated_at,
        analytics.week_over_week_change(previous.impressions, previous.previous_impressions)
            as impressions_wow,
        analytics.week_over_week_change(previous.clicks, previous.previous_clicks) as clicks_wow,
        analytics.week_over_week_change(previous.spend_usd, previous.previous_spend_usd)
            as spend_usd_wow,
        analytics.week_over_week_change(previous.purchases, previous.previous_purchases)
            as purchases_wow,
        analytics.week_over_week_change(previous.sales_usd, previous.previous_sales_usd)
            as sales_usd_wow,
        analytics.week_over_week_change(previous.units_sold, previous.previous_units_sold)
            as units_sold_wow,
        analytics.week_over_week_change(previous.ctr, previous.previous_ctr) as ctr_wow,
        analytics.week_over_week_change(previous.cpc_usd, previous.previous_cpc_usd)
            as cpc_usd_wow,
        analytics.week_over_week_change(previous.cpm_usd, previous.previous_cpm_usd)
            as cpm_usd_wow,
        analytics.week_over_week_change(previous.cvr, previous.previous_cvr) as cvr_wow,
        analytics.week_over_week_change(previous.acos, previous.previous_acos) as acos_wow,
        analytics.week_over_week_change(previous.roas, previous.previous_roas) as roas_wow,
        analytics.week_over_week_change(
            previous.new_to_brand_sales_share, previous.previous_new_to_brand_sales_share
        ) as new_to_brand_sales_share_wow
    from previous
)

select * from final
