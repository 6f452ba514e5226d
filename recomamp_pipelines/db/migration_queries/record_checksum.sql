insert into schema_migration_checksums (migration_id, checksum)
values (%(migration_id)s, %(checksum)s)
on conflict (migration_id) do nothing
