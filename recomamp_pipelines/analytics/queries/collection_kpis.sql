select * from analytics.collection_weekly_kpis
where collection_id = %(collection_id)s
order by week_start_date
