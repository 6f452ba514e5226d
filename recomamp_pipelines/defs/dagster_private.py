"""The names of Dagster's private modules the glue needs, in one place.

Dagster 1.13 has no public export of these (checked on dagster 1.13.27, the pinned version):
- the run tags of a partition range, which a single-run backfill carries and a launch from a
  script must set the same way (`dagster/asset_partition_range_start` and `..._end`), and the
  prefix of a multi-partitioned run's per-dimension tags;
- the statuses a run never leaves (`FINISHED_STATUSES`);
- the worker health a run launcher reports (`WorkerStatus`, `CheckRunHealthResult`) and the
  class data a configurable launcher is built from (`ConfigurableClassData`);
- what ties a week's check evaluation to that week's materialization, and how the latest
  evaluation of one partition is read back (`AssetCheckEvaluationTargetMaterializationData`,
  `PartitionKeyFilter`, `AssetCheckExecutionRecordStatus`), so that the UI shows each week's
  checks against the week they judged.
An upgrade of the Dagster pin checks this module first.
"""

from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.dagster_run import FINISHED_STATUSES
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    MULTIDIMENSIONAL_PARTITION_PREFIX,
)
from dagster._serdes import ConfigurableClassData

__all__ = [
    "ASSET_PARTITION_RANGE_END_TAG",
    "ASSET_PARTITION_RANGE_START_TAG",
    "FINISHED_STATUSES",
    "MULTIDIMENSIONAL_PARTITION_PREFIX",
    "AssetCheckEvaluationTargetMaterializationData",
    "AssetCheckExecutionRecordStatus",
    "CheckRunHealthResult",
    "ConfigurableClassData",
    "PartitionKeyFilter",
    "WorkerStatus",
]
