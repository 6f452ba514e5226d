"""SQL of the runs of collection weeks and schedule runs, loaded by name."""

from recomamp_pipelines.db.sql_files import sql_loader

load = sql_loader(__package__)
