"""SQL read by the collection assets, loaded by name."""

from recomamp_pipelines.db.sql_files import sql_loader

load = sql_loader(__package__)
