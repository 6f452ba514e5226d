"""Whether the process of a Dagster run is still alive, for runs Dagster cannot check itself.

Dagster's default run launcher cannot report a dead run worker (`kill -9` leaves the run
STARTED for ever). A run that serves schedules tags itself with its host and process; for other
runs, the pid in Dagster's "Started process for run" event is used (that process runs on this
machine under the default launcher). Launchers that check worker health answer themselves.
"""

import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from recomamp_pipelines.defs.dagster_private import FINISHED_STATUSES, WorkerStatus

WORKER_TAG = "recomamp/worker"
#: A run whose process cannot be checked (another host, no pid known) is taken for dead after
#: this long without a sign of life.
UNCHECKABLE_RUN_GRACE = timedelta(hours=1)
#: Runs that hold no work yet: not started, so not dead either.
_WAITING = (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED)
_ENGINE_EVENTS_READ = 20


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces) close with ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _process_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[0]


def worker_identity() -> str:
    """`host:pid:start` of this process."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{process_start(pid) or ''}"


def record_worker(instance: dg.DagsterInstance, run_id: str) -> None:
    """Tag run `run_id` with this process, so that its death can be told apart from a pause."""
    instance.add_run_tags(run_id, {WORKER_TAG: worker_identity()})


def process_alive(pid: int, start: str | None = None) -> bool:
    """Whether process `pid` (started at `start`, when known) is running on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if _process_state(pid) in ("Z", "X"):
        return False
    return not start or process_start(pid) in (None, start)


def run_worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid in the run's "Started process for run" event, when it has one."""
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, limit=_ENGINE_EVENTS_READ
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        data = event.event_specific_data if event is not None else None
        metadata = getattr(data, "metadata", None) or {}
        pid = metadata.get("pid")
        text = getattr(pid, "value", pid)
        if text is not None and str(text).isdigit():
            return int(str(text))
    return None


def run_alive(instance: dg.DagsterInstance, run: dg.DagsterRun | None) -> bool | None:
    """True or False when it can be told, None when it cannot (another host, no pid known)."""
    if run is None or run.status in FINISHED_STATUSES:
        return False
    if run.status in _WAITING:
        return True
    launcher = instance.run_launcher
    if launcher.supports_check_run_worker_health:
        health = launcher.check_run_worker_health(run)
        if health.status in (WorkerStatus.FAILED, WorkerStatus.SUCCESS, WorkerStatus.NOT_FOUND):
            return False
        return True if health.status is WorkerStatus.RUNNING else None
    return local_worker_alive(instance, run)


def local_worker_alive(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool | None:
    """Whether the run's process on this machine lives: its worker tag, else its start event."""
    worker = run.tags.get(WORKER_TAG)
    if worker:
        host, _, rest = worker.partition(":")
        pid_text, _, start = rest.partition(":")
        if host != socket.gethostname() or not pid_text.isdigit():
            return None
        return process_alive(int(pid_text), start or None)
    pid = run_worker_pid(instance, run.run_id)
    return None if pid is None else process_alive(pid)


def runs_by_tag(
    instance: dg.DagsterInstance, tag: str, values: Sequence[str], *, chunk: int = 200
) -> dict[str, dg.DagsterRun]:
    """The newest run carrying each of `values` in tag `tag` (one query per `chunk` values)."""
    found: dict[str, dg.DagsterRun] = {}
    for start in range(0, len(values), chunk):
        wanted = list(values[start : start + chunk])
        for run in instance.get_runs(filters=dg.RunsFilter(tags={tag: wanted})):
            found.setdefault(run.tags[tag], run)
    return found


def fail_dead_run(instance: dg.DagsterInstance, run: dg.DagsterRun | None, reason: str) -> bool:
    """Mark a dead run FAILURE so it stops holding a queue slot; False if it had ended."""
    if run is None or run.status in FINISHED_STATUSES:
        return False
    instance.report_run_failed(run, message=reason)
    return True


def run_is_dead(
    instance: dg.DagsterInstance,
    run: dg.DagsterRun | None,
    *,
    now: datetime,
    silent_since: datetime | None = None,
    grace: timedelta = UNCHECKABLE_RUN_GRACE,
) -> bool:
    """Whether `run` ended or its process is gone.

    When its process cannot be checked, it is taken for dead once nothing was heard from it
    for longer than `grace`: since `silent_since`, or else since the run started.
    """
    alive = run_alive(instance, run)
    if alive is not None:
        return not alive
    assert run is not None  # a missing run is known to be dead
    since = silent_since or run_started_at(instance, run)
    return since is not None and now - since > grace


def run_started_at(instance: dg.DagsterInstance, run: dg.DagsterRun) -> datetime | None:
    record = instance.get_run_record_by_id(run.run_id)
    if record is None or record.start_time is None:
        return None
    return datetime.fromtimestamp(record.start_time, tz=UTC)
