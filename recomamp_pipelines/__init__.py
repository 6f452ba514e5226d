"""RecomAMP Pipelines: AMC reporting on Dagster and PostgreSQL."""
