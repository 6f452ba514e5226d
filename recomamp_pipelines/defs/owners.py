"""Who answers for the pipeline's assets and sensors, as the Dagster UI shows it."""

from __future__ import annotations

#: The team that runs RecomAMP's AMC reporting.
OWNER = "team:recomamp-data"
