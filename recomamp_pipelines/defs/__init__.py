"""Dagster glue: assets, checks, sensors, schedules and resources, assembled in definitions.py.

The pipeline relies on Dagster 1.13 features still marked beta or preview (partitioned asset
checks, sensor options) and pins Dagster exactly, so their warnings are not shown to users:
the README says which features those are.
"""

import warnings

import dagster as dg

for _category in (dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning):
    warnings.filterwarnings("ignore", category=_category)
