-- A collection's place in Dagster: the key of its partitions, and the date range they were
-- last registered for, so that the collections sensor registers each collection once and
-- notices a changed range.
-- depends: 0007_results_schema

alter table report_data_collections
    add column partition_key text
        constraint chk_collection_partition_key check (partition_key ~ '^[a-z0-9-]+$'),
    add column registered_start_date date,
    add column registered_end_date date;

create unique index uq_report_data_collections_partition_key
    on report_data_collections (partition_key) where partition_key is not null;

comment on column report_data_collections.partition_key is
    'Dagster partition key of the collection dimension: a slug of the name and the id';
