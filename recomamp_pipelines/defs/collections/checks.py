"""The asset checks of each collection week, as Dagster records and shows them per partition.

A run plans every check for every week it covers; a week's planned check that gets no
evaluation is shown as Skipped once the run ends. So each week reports:

- after an AMC call: one evaluation per check that applies, after the week's materialization
  and targeting it (a check that targets an older materialization is no longer current);
- a check that does not apply to the week (no earlier week, no column it reads): no evaluation,
  hence Skipped, with the reason in the run log;
- a week left untouched (reused, or refused because another run holds it): its last real
  evaluations again, marked with the run that computed them, so that reusing a week never
  turns its passed checks into skipped or missing ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg

from recomamp_pipelines.defs.dagster_private import (
    AssetCheckEvaluationTargetMaterializationData,
    AssetCheckExecutionRecordStatus,
    PartitionKeyFilter,
)
from recomamp_pipelines.quality.loaded_week import CHECKS
from recomamp_pipelines.quality.outcomes import CheckOutcome

#: Not a data check: whether AMC produced the week at all, with AMC's own words when not.
AMC_EXECUTION_CHECK = "amc_execution_succeeded"
#: Metadata key naming the run whose evaluation a reused week shows again.
EVALUATED_IN_RUN = "evaluated_in_run"
#: How many of a week's latest records to look through for one not of the current run.
HISTORY_DEPTH = 3

_SEVERITY = {spec.name: dg.AssetCheckSeverity(spec.severity) for spec in CHECKS}
_SEVERITY[AMC_EXECUTION_CHECK] = dg.AssetCheckSeverity.ERROR
CHECK_NAMES = (AMC_EXECUTION_CHECK, *(spec.name for spec in CHECKS))


def _label(name: str) -> str:
    severity = _SEVERITY[name]
    if severity is dg.AssetCheckSeverity.ERROR:
        return "[ERROR: a failure keeps the week from being published]"
    return "[WARN: reported, the week is published all the same]"


def week_check_specs(
    asset_key: dg.AssetKey, partitions_def: dg.PartitionsDefinition
) -> list[dg.AssetCheckSpec]:
    """One partitioned check per quality check, plus AMC's own verdict; ERROR ones blocking."""
    descriptions = {spec.name: spec.description for spec in CHECKS}
    descriptions[AMC_EXECUTION_CHECK] = (
        "The week's AMC execution succeeded (AMC's error text when it did not)."
    )
    return [
        dg.AssetCheckSpec(
            name,
            asset=asset_key,
            partitions_def=partitions_def,
            blocking=_SEVERITY[name] is dg.AssetCheckSeverity.ERROR,
            description=f"{_label(name)} {descriptions[name]} Skipped when it does not apply "
            "to the week's result (the run log says why).",
        )
        for name in CHECK_NAMES
    ]


def latest_materialization(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition_key: str
) -> AssetCheckEvaluationTargetMaterializationData | None:
    """The materialization a check of this week evaluates: the week's latest one, if any."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition_key]), limit=1
    ).records
    if not records:
        return None
    record = records[0]
    return AssetCheckEvaluationTargetMaterializationData(
        storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp
    )


def _metadata_value(value: Any) -> dg.RawMetadataValue:
    if isinstance(value, dict | list):
        return dg.MetadataValue.json(value)
    return value


def amc_evaluation(
    asset_key: dg.AssetKey,
    partition_key: str,
    *,
    passed: bool,
    metadata: dict[str, dg.RawMetadataValue],
    target: AssetCheckEvaluationTargetMaterializationData | None,
) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=asset_key,
        check_name=AMC_EXECUTION_CHECK,
        partition=partition_key,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
        target_materialization_data=target,
    )


def quality_evaluation(
    asset_key: dg.AssetKey,
    partition_key: str,
    check: CheckOutcome,
    target: AssetCheckEvaluationTargetMaterializationData | None,
) -> dg.AssetCheckEvaluation:
    """A quality check's outcome as Dagster records it (only for a check that applies)."""
    return dg.AssetCheckEvaluation(
        asset_key=asset_key,
        check_name=check.name,
        partition=partition_key,
        passed=check.passed,
        severity=_SEVERITY[check.name],
        description=str(check.metadata.get("reason") or check.description),
        metadata={
            key: _metadata_value(value)
            for key, value in check.metadata.items()
            if isinstance(value, str | int | float | bool | dict | list)
        },
        target_materialization_data=target,
    )


def previous_evaluations(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition_key: str, run_id: str
) -> Iterator[dg.AssetCheckEvaluation]:
    """The week's last real evaluation of each check (of a run other than `run_id`), again.

    A check whose last run did not evaluate it (it did not apply, or AMC failed) has none.
    """
    for name in CHECK_NAMES:
        history = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(asset_key, name),
            limit=HISTORY_DEPTH,
            partition_filter=PartitionKeyFilter(key=partition_key),
        )
        last = next((record for record in history if record.run_id != run_id), None)
        if last is None or last.status not in (
            AssetCheckExecutionRecordStatus.SUCCEEDED,
            AssetCheckExecutionRecordStatus.FAILED,
        ):
            continue
        event = last.event.dagster_event if last.event else None
        evaluation = event.event_specific_data if event else None
        if not isinstance(evaluation, dg.AssetCheckEvaluation):
            continue
        metadata: dict[str, dg.RawMetadataValue] = dict(evaluation.metadata)
        metadata.setdefault(EVALUATED_IN_RUN, dg.MetadataValue.dagster_run(last.run_id))
        yield dg.AssetCheckEvaluation(
            asset_key=asset_key,
            check_name=name,
            partition=partition_key,
            passed=evaluation.passed,
            severity=evaluation.severity,
            description=evaluation.description,
            metadata=metadata,
            target_materialization_data=evaluation.target_materialization_data,
        )
