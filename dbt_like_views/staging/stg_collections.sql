-- One row per report data collection: its workflow, template, instance, range and progress.
with

collections as (
    select * from public.report_data_collections
),

workflows as (
    select * from public.workflows
),

templates as (
    select * from public.query_templates
),

instances as (
    select * from public.amc_instances
),

final as (
    select
        collections.id as collection_id,
        collections.name as collection_name,
        collections.user_id,
        collections.workflow_id,
        workflows.name as workflow_name,
        templates.template_key,
        templates.name as template_name,
        collections.instance_id,
        instances.instance_id as amc_instance_id,
        collections.status as collection_status,
        collections.start_date,
        collections.end_date,
        collections.total_weeks,
        collections.completed_weeks,
        collections.failed_weeks,
        collections.progress_percentage::double precision as progress_percentage,
        collections.partition_key,
        collections.created_at,
        collections.updated_at,
        workflows.updated_at as workflow_updated_at,
        templates.updated_at as template_updated_at,
        collections.completed_at
    from collections
    inner join workflows on workflows.id = collections.workflow_id
    left join templates on templates.id = workflows.template_id
    inner join instances on instances.id = collections.instance_id
)

select * from final
