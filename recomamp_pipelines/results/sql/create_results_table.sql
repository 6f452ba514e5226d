create table {results_table} (
    window_start timestamp not null,
    window_end timestamp not null,
    source_kind text not null check (source_kind in ('collection', 'schedule')),
    source_id uuid not null,
    user_id uuid not null,
    week_start_date date,
    {columns}
);

create index {window_index} on {results_table} (source_id, window_start, window_end);

-- Owners read their own rows through the API role; the pipeline owns the table and bypasses RLS.
-- `(select auth.uid())` is evaluated once per query, not once per row.
alter table {results_table} enable row level security;

create policy owner_reads_own_rows on {results_table}
    for select to authenticated
    using (user_id = (select auth.uid()));

grant select on {results_table} to authenticated;
