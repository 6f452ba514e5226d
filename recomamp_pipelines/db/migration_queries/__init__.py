"""SQL of the migration runner's own bookkeeping, loaded by name from this folder."""
