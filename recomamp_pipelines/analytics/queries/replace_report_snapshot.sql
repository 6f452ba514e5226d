-- The pipeline keeps one generated snapshot per collection: the previous one is replaced.
with removed as (
    delete from public.collection_report_snapshots
    where collection_id = %(collection_id)s and metadata ->> 'generated_by' = 'recomamp report'
)
insert into public.collection_report_snapshots (
    name, description, collection_id, created_by, snapshot_data, metadata
)
values (
    %(name)s,
    %(description)s,
    %(collection_id)s,
    %(created_by)s,
    %(snapshot_data)s,
    %(metadata)s
)
returning id as snapshot_id
