-- sha256 of each applied migration file, which yoyo does not keep (its hash is of the id).
create table if not exists schema_migration_checksums (
    migration_id text primary key,
    checksum text not null,
    recorded_at timestamptz not null default now()
)
