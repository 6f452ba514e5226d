"""Resources: the RecomAMP database and settings, read from the environment at run time.

Nothing secret is Dagster configuration (which the UI displays): AMC credentials and keys come
from the environment or the settings file.
"""

from __future__ import annotations

import dagster as dg

from recomamp_pipelines.db.connection import database_url
from recomamp_pipelines.settings import Settings, load_settings


class RecomampResource(dg.ConfigurableResource):
    """Access to the RecomAMP settings and database."""

    def settings(self) -> Settings:
        return load_settings()

    def database_url(self) -> str:
        return database_url(self.settings())
