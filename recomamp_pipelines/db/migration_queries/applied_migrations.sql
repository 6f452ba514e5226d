-- yoyo records applied_at_utc as a UTC timestamp without time zone.
select migration_id, applied_at_utc at time zone 'UTC' as applied_at
from _yoyo_migration
