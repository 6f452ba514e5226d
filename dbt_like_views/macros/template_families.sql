{#-
    The template family marts' source keys, written once.

    family_results('<template key>') is the rows of every workflow made from that official
    template (template_results), each with the collection or schedule it came from:
    collection_id and collection_name for a collection's week, schedule_id and schedule_name
    for a schedule's run.

    source_keys('<relation>') lists the key columns a family mart starts with: source_kind,
    collection_id, collection_name, schedule_id, schedule_name, user_id, week_start_date,
    window_start, window_end.
-#}

{% macro family_results(template_key) -%}
select
        results.*,
        case when results.source_kind = 'collection' then results.source_id end
            as collection_id,
        collections.collection_name,
        case when results.source_kind = 'schedule' then results.source_id end as schedule_id,
        schedules.schedule_name
    from (
        {{ template_results(template_key) }}
    ) as results
    left join analytics.stg_collections as collections
        on results.source_kind = 'collection' and collections.collection_id = results.source_id
    left join analytics.stg_workflow_schedules as schedules
        on results.source_kind = 'schedule' and schedules.schedule_id = results.source_id
{%- endmacro %}

{% macro source_keys(relation) -%}
{{ relation }}.source_kind,
        {{ relation }}.collection_id,
        {{ relation }}.collection_name,
        {{ relation }}.schedule_id,
        {{ relation }}.schedule_name,
        {{ relation }}.user_id,
        {{ relation }}.week_start_date,
        {{ relation }}.window_start,
        {{ relation }}.window_end
{%- endmacro %}
