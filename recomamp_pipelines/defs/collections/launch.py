"""Backfills of collection weeks from a script: through Dagster, in this process, no daemon.

The run is recorded in the Dagster instance under DAGSTER_HOME like one launched from the UI;
the weeks it covers report their materializations and checks the same way. Several collections
at once run in processes of their own (`run_backfills`), forked from one that imported Dagster,
the definitions and great-expectations once.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.queues
import os
import queue
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, date, datetime

import dagster as dg
import psycopg

from recomamp_pipelines.collections.context import (
    CollectionContext,
    CollectionNotFoundError,
    collection_id_for_partition,
    load_collection,
)
from recomamp_pipelines.collections.registration import register_collections
from recomamp_pipelines.dagster_home import prepare_dagster_home
from recomamp_pipelines.db.connection import connect, database_url
from recomamp_pipelines.defs.collections.assets import AMC_EXECUTION_CHECK, REFRESH_TAG
from recomamp_pipelines.defs.collections.partitions import COLLECTIONS_PARTITIONS_NAME
from recomamp_pipelines.defs.collections.runs import runs_in_flight
from recomamp_pipelines.defs.collections.sql import load
from recomamp_pipelines.defs.dagster_private import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from recomamp_pipelines.defs.recovery.liveness import run_alive
from recomamp_pipelines.runs.weeks import weeks_to_retry
from recomamp_pipelines.settings import Settings
from recomamp_pipelines.weeks.calendar import Week

SOURCE_TAG = "recomamp/launched_by"

logger = logging.getLogger(__name__)


class BackfillRequestError(ValueError):
    """The backfill asked for cannot be run as given."""


@dataclass(frozen=True)
class WeekResult:
    week_start_date: date
    outcome: str
    message: str


@dataclass(frozen=True)
class BackfillReport:
    collection: CollectionContext
    #: The Dagster run, or the runs comma-separated (one per contiguous range of weeks).
    run_id: str | None
    succeeded: bool
    weeks: list[WeekResult]


@dataclass(frozen=True)
class CollectionOutcome:
    """One collection of `run_backfills`: its report, or why it did not run."""

    reference: str
    report: BackfillReport | None
    error: str | None = None


#: What the processes of `run_backfills` are forked from has imported these once.
PRELOADED_MODULES = (
    "recomamp_pipelines.definitions",
    "great_expectations",
    "great_expectations.expectations",
)

#: Collections run at once by one command; the others start as these end. A process holds up to
#: five PostgreSQL connections (its pool of 3, its lock session, Dagster's writes), so 20 stay
#: within PostgreSQL's default 100, and 20 collections of 10 weeks fill AMC's account limit of
#: 200 executions.
MAX_PROCESSES = 20

_progress_queue: multiprocessing.queues.Queue[tuple[str, int, int]] | None = None


def run_backfills(
    settings: Settings,
    references: Sequence[str],
    *,
    first: date | None = None,
    last: date | None = None,
    refresh: bool = False,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> list[CollectionOutcome]:
    """Backfill several collections at once, each in a process of its own, and report each.

    The processes are forked from a server that imported Dagster, the definitions and
    great-expectations once (multiprocessing's forkserver), so none of them pays for those
    imports again; AMC's limits bound what they have in flight together, as for separate
    commands. At most MAX_PROCESSES run at once. `on_progress(reference, weeks done, weeks)`
    is called in this process.
    """
    # Bad input is refused before any process starts.
    check_range(first, last)
    repeated = sorted(ref for ref, count in Counter(references).items() if count > 1)
    if repeated:
        raise BackfillRequestError(
            f"collection {repeated[0]!r} is named more than once: expected each collection once"
        )
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOADED_MODULES))
    # The server starts importing now, while this process does, once rather than in every
    # process, the registration of new collections and the creation of Dagster's storage.
    multiprocessing.forkserver.ensure_running()
    url = database_url(settings)
    with connect(url, autocommit=True) as conn:
        register_collections(conn, settings.week_start_day)
    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(settings, url))
    _open_instance(url).dispose()
    progress: multiprocessing.queues.Queue[tuple[str, int, int]] = context.Queue()
    outcomes: dict[str, CollectionOutcome] = {}
    with ProcessPoolExecutor(
        max_workers=min(len(references), MAX_PROCESSES),
        mp_context=context,
        # A fresh fork for every collection: none inherits another's state.
        max_tasks_per_child=1,
        initializer=_start_worker,
        initargs=(progress,),
    ) as pool:
        futures: dict[Future[CollectionOutcome], str] = {
            pool.submit(_backfill_in_worker, settings, ref, first, last, refresh): ref
            for ref in references
        }
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            _drain(progress, on_progress)
            for future in finished:
                outcomes[futures[future]] = _outcome(futures[future], future)
        _drain(progress, on_progress)
    return [outcomes[ref] for ref in references]


def _outcome(reference: str, future: Future[CollectionOutcome]) -> CollectionOutcome:
    """The worker's outcome; an error it raised (or its process's death) named, not raised, so
    that one collection does not hide the others' reports."""
    try:
        return future.result()
    except BrokenProcessPool:
        return CollectionOutcome(reference, None, "its process died before the backfill ended")
    except Exception as exc:  # reported with the collection it belongs to
        return CollectionOutcome(reference, None, f"{type(exc).__name__}: {exc}")


def _start_worker(progress: multiprocessing.queues.Queue[tuple[str, int, int]]) -> None:
    global _progress_queue
    _progress_queue = progress


def _backfill_in_worker(
    settings: Settings, reference: str, first: date | None, last: date | None, refresh: bool
) -> CollectionOutcome:
    def report_progress(done: int, total: int) -> None:
        if _progress_queue is not None:
            _progress_queue.put((reference, done, total))

    try:
        report = run_backfill(
            settings,
            reference,
            first=first,
            last=last,
            refresh=refresh,
            on_progress=report_progress,
            register=False,
        )
    except BackfillRequestError as exc:
        return CollectionOutcome(reference, None, str(exc))
    return CollectionOutcome(reference, report)


def _drain(
    progress: multiprocessing.queues.Queue[tuple[str, int, int]],
    on_progress: Callable[[str, int, int], None] | None,
) -> None:
    while True:
        try:
            reference, done, total = progress.get_nowait()
        except queue.Empty:
            return
        if on_progress is not None:
            on_progress(reference, done, total)


def find_collection(conn: psycopg.Connection, reference: str) -> CollectionContext:
    """A collection by its id or its partition key."""
    try:
        collection_id = uuid.UUID(reference)
    except ValueError:
        collection_id = collection_id_for_partition(conn, reference)
    return load_collection(conn, collection_id)


def check_range(first: date | None, last: date | None) -> None:
    """The weeks asked for run from `first` to `last`, either of them open."""
    if first and last and last < first:
        raise BackfillRequestError(f"--to {last} is before --from {first}")


def select_weeks(
    collection: CollectionContext,
    week_start_day: int,
    first: date | None,
    last: date | None,
) -> list[Week]:
    check_range(first, last)
    weeks = [
        week
        for week in collection.weeks(week_start_day)
        if (first is None or week.end_date >= first) and (last is None or week.start_date <= last)
    ]
    if not weeks:
        raise BackfillRequestError(
            f"collection {collection.name!r} ({collection.start_date} .. "
            f"{collection.end_date}) has no week between {first or 'its start'} and "
            f"{last or 'its end'}"
        )
    return weeks


def run_backfill(
    settings: Settings,
    reference: str,
    *,
    first: date | None = None,
    last: date | None = None,
    refresh: bool = False,
    only_failed: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    instance: dg.DagsterInstance | None = None,
    register: bool = True,
) -> BackfillReport:
    """Backfill weeks of one collection through Dagster and report each week's outcome.

    New collections are registered first, unless `register` is false (the caller did it)."""
    url = database_url(settings)
    with connect(url, autocommit=True) as conn:
        if register:
            register_collections(conn, settings.week_start_day)
        try:
            collection = find_collection(conn, reference)
        except CollectionNotFoundError as exc:
            raise BackfillRequestError(str(exc)) from exc
        weeks = select_weeks(collection, settings.week_start_day, first, last)
        if only_failed:
            retried = weeks_to_retry(conn, collection.collection_id)
            weeks = [week for week in weeks if week.start_date in retried]
    now = datetime.now(UTC)
    refused = {
        week.start_date: reason
        for week in weeks
        if (reason := collection.refusal(week, now=now, week_start_day=settings.week_start_day))
    }
    runnable = [week for week in weeks if week.start_date not in refused]
    results = [WeekResult(day, "refused", reason) for day, reason in refused.items()]
    if not runnable:
        return BackfillReport(collection, None, True, sorted(results, key=_by_week))

    if instance is None:
        os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(settings, url))
        instance = _open_instance(url)
    key = _partition_key(url, collection)
    if not instance.has_dynamic_partition(COLLECTIONS_PARTITIONS_NAME, key):
        instance.add_dynamic_partitions(COLLECTIONS_PARTITIONS_NAME, [key])

    running = runs_in_flight(instance).get(key)
    if running is not None and run_alive(instance, running) is False:
        # Its process died (killed with the command that ran it): this run takes its weeks over,
        # adopting the AMC executions it left.
        instance.report_run_failed(
            running, "its process is gone; its weeks are taken over by `recomamp backfill`"
        )
        running = None
    if running is not None:
        raise BackfillRequestError(
            f"collection {collection.name!r} is being run by Dagster run {running.run_id} "
            f"({running.status.value}); wait for it to end, or cancel it in the Dagster UI"
        )
    run_ids: list[str] = []
    succeeded = True
    done_before = 0
    for run_weeks in contiguous_runs(collection.weeks(settings.week_start_day), runnable):
        run_id, success, seen = _run_weeks(
            instance, key, run_weeks, refresh, on_progress, done_before, len(runnable)
        )
        run_ids.append(run_id)
        succeeded = succeeded and success
        done_before += len(run_weeks)
        for week in run_weeks:
            results.append(
                seen.get(week.start_date)
                or WeekResult(week.start_date, "failed", "the run ended before this week finished")
            )
    return BackfillReport(collection, ", ".join(run_ids), succeeded, sorted(results, key=_by_week))


def contiguous_runs(all_weeks: list[Week], chosen: list[Week]) -> list[list[Week]]:
    """`chosen` cut where it skips a week of `all_weeks`: a run covers a range of weeks."""
    position = {week: index for index, week in enumerate(all_weeks)}
    runs: list[list[Week]] = []
    for week in sorted(chosen, key=lambda w: w.start_date):
        if runs and position.get(week, -2) == position.get(runs[-1][-1], -9) + 1:
            runs[-1].append(week)
        else:
            runs.append([week])
    return runs


def _run_weeks(
    instance: dg.DagsterInstance,
    key: str,
    weeks: list[Week],
    refresh: bool,
    on_progress: Callable[[int, int], None] | None,
    done_before: int,
    total: int,
) -> tuple[str, bool, dict[date, WeekResult]]:
    """One in-process run of a range of weeks; its run id, success and week outcomes."""
    from recomamp_pipelines.definitions import defs

    job = defs.resolve_job_def("collection_weeks_job")
    run_id = str(uuid.uuid4())
    done = threading.Event()
    progress = None
    if on_progress is not None:

        def progress(finished: int, _: int) -> None:
            on_progress(done_before + finished, total)

    watcher = threading.Thread(
        target=_watch_progress,
        args=(instance, run_id, len(weeks), progress, done),
        daemon=True,
    )
    if progress is not None:
        watcher.start()
    try:
        result = job.execute_in_process(
            instance=instance,
            run_id=run_id,
            raise_on_error=False,
            # The command shows its own progress; the run's events still reach the instance.
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            tags={
                ASSET_PARTITION_RANGE_START_TAG: f"{key}|{weeks[0].partition_key}",
                ASSET_PARTITION_RANGE_END_TAG: f"{key}|{weeks[-1].partition_key}",
                REFRESH_TAG: "true" if refresh else "false",
                SOURCE_TAG: "recomamp backfill",
            },
        )
    finally:
        done.set()
        if watcher.is_alive():
            watcher.join(timeout=5)
    return run_id, result.success, _outcomes(instance, run_id)


def _by_week(result: WeekResult) -> date:
    return result.week_start_date


def _partition_key(url: str, collection: CollectionContext) -> str:
    if collection.partition_key:
        return collection.partition_key
    with connect(url) as conn:
        row = conn.execute(
            "select partition_key from report_data_collections where id = %s",
            (collection.collection_id,),
        ).fetchone()
    if row is None or row[0] is None:
        raise BackfillRequestError(f"collection {collection.name!r} is not registered")
    key: str = row[0]
    return key


def _open_instance(url: str) -> dg.DagsterInstance:
    """Dagster's instance of DAGSTER_HOME, opened under a lock: backfills started together on a
    fresh home would otherwise race to create Dagster's storage tables, and all but one fail."""
    with connect(url, autocommit=True) as conn:
        conn.execute(load("lock_dagster_storage"))
        try:
            instance = dg.DagsterInstance.get()
            # Each storage makes its tables when first opened.
            for storage in (
                instance.run_storage,
                instance.event_log_storage,
                instance.schedule_storage,
            ):
                assert storage is not None
            return instance
        finally:
            conn.execute(load("unlock_dagster_storage"))


def _check_evaluations(
    instance: dg.DagsterInstance, run_id: str, cursor: str | None = None
) -> tuple[list[dg.EventLogEntry], str | None]:
    """The run's evaluations of the AMC execution check after `cursor` (all, without one), and
    the cursor to read on from."""
    result = instance.get_records_for_run(
        run_id, cursor=cursor, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    )
    entries = []
    for record in result.records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        evaluation = event.event_specific_data
        if getattr(evaluation, "check_name", None) == AMC_EXECUTION_CHECK:
            entries.append(record.event_log_entry)
    return entries, result.cursor or cursor


def _outcomes(instance: dg.DagsterInstance, run_id: str) -> dict[date, WeekResult]:
    outcomes: dict[date, WeekResult] = {}
    entries, _ = _check_evaluations(instance, run_id)
    for entry in entries:
        assert entry.dagster_event is not None
        evaluation = entry.dagster_event.event_specific_data
        partition = str(getattr(evaluation, "partition", "") or "")
        week_key = partition.rsplit("|", 1)[-1]
        metadata = getattr(evaluation, "metadata", {}) or {}
        outcome = metadata.get("outcome")
        message = metadata.get("message")
        outcomes[date.fromisoformat(week_key)] = WeekResult(
            date.fromisoformat(week_key),
            str(getattr(outcome, "value", outcome)),
            str(getattr(message, "value", message)),
        )
    return outcomes


def _watch_progress(
    instance: dg.DagsterInstance,
    run_id: str,
    total: int,
    on_progress: Callable[[int, int], None] | None,
    done: threading.Event,
) -> None:
    assert on_progress is not None
    finished = 0
    cursor: str | None = None
    # Each look reads only the evaluations since the last: a long run's look stays cheap.
    while not done.wait(1.0):
        try:
            entries, cursor = _check_evaluations(instance, run_id, cursor)
        except Exception as exc:  # the progress bar waits for the next look
            logger.debug("the progress of run %s was not read: %s", run_id, exc)
            continue
        finished += len(entries)
        on_progress(min(finished, total), total)
    entries, _ = _check_evaluations(instance, run_id, cursor)
    on_progress(min(finished + len(entries), total), total)
