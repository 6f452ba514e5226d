"""Report data collections: managed (`management`), read for their runs (`context`), registered
as Dagster partitions with their weeks (`registration`), and planned (`plans`: which weeks the
backfill and nightly sensors request)."""
