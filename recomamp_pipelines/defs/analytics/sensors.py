"""The sensor that evaluates the analyst assets' automation conditions, running by default."""

import dagster as dg

ANALYTICS_GROUPS = ("analytics_staging", "analytics_marts", "analytics_reports")

analytics_automation_sensor = dg.AutomationConditionSensorDefinition(
    "analytics_automation_sensor",
    target=dg.AssetSelection.groups(*ANALYTICS_GROUPS),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description=(
        "Re-applies a view when its file changes and refreshes the marts once after each run of "
        "weeks, as the analytics assets' automation conditions say."
    ),
)
