-- The mart's executions, successes and failures per instance add up to the executions' own
-- (executions without an instance count under the nil uuid).
with

source as (
    select
        coalesce(instance_id, '00000000-0000-0000-0000-000000000000') as instance_id,
        count(*) as executions,
        count(*) filter (where is_success) as succeeded,
        count(*) filter (where is_failure) as failed
    from analytics.stg_workflow_executions
    group by 1
),

mart as (
    select
        coalesce(instance_id, '00000000-0000-0000-0000-000000000000') as instance_id,
        sum(executions) as executions,
        sum(succeeded) as succeeded,
        sum(failed) as failed
    from analytics.execution_reliability
    group by 1
),

final as (
    select source.*, mart.executions as mart_executions
    from source
    full join mart on mart.instance_id = source.instance_id
    where
        mart.executions is distinct from source.executions
        or mart.succeeded is distinct from source.succeeded
        or mart.failed is distinct from source.failed
)

select * from final
