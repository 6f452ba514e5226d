-- The bookkeeping tables live in public, where Supabase's default privileges hand every new
-- table to anon and authenticated. Row-level security without a policy shuts them out; the
-- owner that runs migrations is not affected.
do $$
declare
    bookkeeping regclass;
begin
    for bookkeeping in
        select c.oid::regclass
        from pg_class as c
        where c.oid in (
            to_regclass('_yoyo_migration'), to_regclass('_yoyo_log'),
            to_regclass('_yoyo_version'), to_regclass('yoyo_lock'),
            to_regclass('schema_migration_checksums')
        )
          and not c.relrowsecurity
    loop
        execute format('alter table %s enable row level security', bookkeeping);
    end loop;
end
$$
