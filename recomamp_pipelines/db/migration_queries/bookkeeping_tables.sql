select
    to_regclass('_yoyo_migration') is not null as has_migrations,
    to_regclass('schema_migration_checksums') is not null as has_checksums
