-- A template family mart has as many rows per source and window as the results of the
-- workflows made from its template: none lost, none made up.
with

results as (
    select
        results.source_kind,
        results.source_id,
        results.window_start,
        count(*) as result_rows
    from analytics.stg_workflow_results as results
    inner join public.workflows as workflows on workflows.id = results.workflow_id
    inner join public.query_templates as templates on templates.id = workflows.template_id
    where templates.template_key = %(template_key)s
    group by 1, 2, 3
),

mart as (
    select
        source_kind,
        coalesce(collection_id, schedule_id) as source_id,
        window_start,
        count(*) as mart_rows
    from {{ this }}
    group by 1, 2, 3
),

final as (
    select
        coalesce(results.source_id, mart.source_id) as source_id,
        coalesce(results.window_start, mart.window_start) as window_start,
        results.result_rows,
        mart.mart_rows
    from results
    full join mart
        on
            mart.source_kind = results.source_kind
            and mart.source_id = results.source_id
            and mart.window_start = results.window_start
    where results.result_rows is distinct from mart.mart_rows
)

select * from final
