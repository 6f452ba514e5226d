"""PostgreSQL access: connections, the embedded server, migrations."""
