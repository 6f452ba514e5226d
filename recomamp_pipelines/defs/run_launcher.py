"""The run launcher of a single-host deployment: Dagster's default one, with worker health.

Dagster's default launcher starts each run worker as a process of the code server and cannot
tell when that process died, so a `kill -9` leaves the run STARTED for ever. On one host the
daemon sees the same processes as the code server: this launcher answers Dagster's run
monitoring with the worker's pid, so a dead worker is marked failed within one monitoring
interval and run retries take the run over. It is only right where the daemon and the code
server share a process namespace (`recomamp services up`); containers and Kubernetes use
their own launchers.
"""

from collections.abc import Mapping
from typing import Any, Self

from dagster import DagsterRun, DefaultRunLauncher

from recomamp_pipelines.defs.dagster_private import (
    CheckRunHealthResult,
    ConfigurableClassData,
    WorkerStatus,
)
from recomamp_pipelines.defs.recovery.liveness import local_worker_alive


class LocalProcessRunLauncher(DefaultRunLauncher):
    """DefaultRunLauncher whose run workers' health is their process on this machine."""

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> Self:
        return cls(inst_data=inst_data)

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        alive = local_worker_alive(self._instance, run)
        if alive is False:
            return CheckRunHealthResult(
                WorkerStatus.FAILED, f"the process of run {run.run_id} is gone"
            )
        # Not known yet (no start event): taken as running; run monitoring asks again.
        return CheckRunHealthResult(WorkerStatus.RUNNING)
