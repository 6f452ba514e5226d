"""A week's CSV files loaded into its typed table and Parquet file in one transaction."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Generic, TypeVar

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from psycopg import sql

from recomamp_pipelines.results import (
    LoadedWeek,
    LoadError,
    ResultTarget,
    SchemaDrift,
    SchemaDriftError,
    WeekState,
    load_week,
    parquet_path,
    preview_rows,
    remove_abandoned_files,
    results_table_name,
)
from recomamp_pipelines.results.parquet import ResultFileError
from tests.results.factories import (
    HEADER,
    OUTPUT_COLUMNS,
    ROWS,
    Conn,
    add_owner,
    make_target,
    one,
    write_csv,
)

# Upper bound for anything the tests wait for; reached only when something is broken.
WAIT_SECONDS = 30.0

T = TypeVar("T")


@contextmanager
def loading(
    conn: Conn,
    tmp_path: Path,
    files: Sequence[Path],
    target: ResultTarget | None = None,
    output_columns: list[dict[str, str]] = OUTPUT_COLUMNS,
) -> Iterator[LoadedWeek]:
    with load_week(
        conn,
        files,
        output_columns,
        target or make_target(),
        results_root=tmp_path / "results",
    ) as week:
        yield week


def publish(
    conn: Conn,
    tmp_path: Path,
    files: Sequence[Path],
    target: ResultTarget | None = None,
    output_columns: list[dict[str, str]] = OUTPUT_COLUMNS,
) -> LoadedWeek:
    with loading(conn, tmp_path, files, target, output_columns) as week:
        pass
    assert week.published
    return week


def load_and_discard(
    conn: Conn,
    tmp_path: Path,
    files: Sequence[Path],
    target: ResultTarget | None = None,
    output_columns: list[dict[str, str]] = OUTPUT_COLUMNS,
) -> LoadedWeek:
    with loading(conn, tmp_path, files, target, output_columns) as week:
        week.discard()
    assert week.state is WeekState.DISCARDED
    return week


def table_rows(conn: Conn, workflow_id: uuid.UUID) -> list[tuple[Any, ...]]:
    table = results_table_name(workflow_id)
    return conn.execute(
        f"select * from results.{table} order by week_start_date, campaign, event_date"
    ).fetchall()


def week_counts(conn: Conn, workflow_id: uuid.UUID) -> dict[date, int]:
    table = results_table_name(workflow_id)
    rows = conn.execute(
        f"select week_start_date, count(*) from results.{table} group by 1 order by 1"
    ).fetchall()
    return dict(rows)


def table_exists(conn: Conn, workflow_id: uuid.UUID) -> bool:
    name = f"results.{results_table_name(workflow_id)}"
    return one(conn, "select to_regclass(%s)", (name,)) is not None


def column_types(conn: Conn, table: str) -> dict[str, str]:
    rows = conn.execute(
        "select column_name, data_type, is_nullable from information_schema.columns "
        "where table_schema = 'results' and table_name = %s",
        (table,),
    ).fetchall()
    return {
        name: f"{data_type} {'null' if nullable == 'YES' else 'not null'}"
        for name, data_type, nullable in rows
    }


def temp_files(root: Path) -> list[Path]:
    """Temporary Parquet files under the results root."""
    return sorted(root.rglob(".*.tmp")) if root.exists() else []


# The output of a later week that brings a column the first week did not have.
WITH_UNITS_SOLD = [*OUTPUT_COLUMNS, {"name": "units_sold", "dataType": "LONG"}]


def units_sold_csv(path: Path, rows: Sequence[Sequence[str]]) -> Path:
    """A result file with the units_sold column, 7 in every row."""
    return write_csv(path, [[*row, "7"] for row in rows], header=[*HEADER, "units_sold"])


def three_weeks(
    conn: Conn, tmp_path: Path
) -> tuple[uuid.UUID, ResultTarget, ResultTarget, ResultTarget]:
    """A new workflow and three of its weeks, the first published (5 rows, no units_sold)."""
    workflow = uuid.uuid4()
    week1, week2, week3 = (
        make_target(workflow_id=workflow, week=date(2024, 1, d)) for d in (1, 8, 15)
    )
    publish(conn, tmp_path, [write_csv(tmp_path / "w1.csv", ROWS)], week1)
    return workflow, week1, week2, week3


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.01)


def lock_waited_for(observer: Conn, pid: int) -> str:
    """The kind of lock the backend `pid` is waiting for, once it waits for one."""
    waiting: list[str] = []

    def is_waiting() -> bool:
        row = observer.execute(
            "select wait_event_type, wait_event from pg_stat_activity where pid = %s", (pid,)
        ).fetchone()
        if row is not None and row[0] == "Lock":
            waiting.append(row[1])
        return bool(waiting)

    wait_until(is_waiting, f"backend {pid} waits for a lock")
    return waiting[0]


class InThread(Generic[T]):
    """A call run on its own thread, its result or exception kept for the test."""

    def __init__(self, call: Callable[[], T]) -> None:
        self._call = call
        self._result: list[T] = []
        self._error: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result.append(self._call())
        except BaseException as exc:
            self._error.append(exc)

    def running(self) -> bool:
        return self._thread.is_alive()

    def result(self) -> T:
        self._thread.join(WAIT_SECONDS)
        assert not self._thread.is_alive(), "the call did not finish"
        if self._error:
            raise self._error[0]
        return self._result[0]


def test_a_first_week_creates_the_typed_table_and_its_parquet_file(
    db_conn: Conn, tmp_path: Path
) -> None:
    target = make_target()
    assert not table_exists(db_conn, target.workflow_id)

    published = publish(db_conn, tmp_path, [write_csv(tmp_path / "a.csv", ROWS)], target)

    table = results_table_name(target.workflow_id)
    assert table == f"workflow_{target.workflow_id.hex}"
    assert published.results_table == f"results.{table}"
    assert published.state is WeekState.PUBLISHED
    assert published.expected_columns == ()
    assert published.drifts == ()
    assert column_types(db_conn, table) == {
        "window_start": "timestamp without time zone not null",
        "window_end": "timestamp without time zone not null",
        "source_kind": "text not null",
        "source_id": "uuid not null",
        "user_id": "uuid not null",
        "week_start_date": "date null",
        "campaign": "text null",
        "event_date": "date null",
        "impressions": "bigint null",
        "clicks": "bigint null",
        "purchases": "integer null",
        "spend": "double precision null",
        "product_sales": "double precision null",
        "filtered": "boolean null",
    }
    assert (published.row_count, published.replaced_row_count) == (5, 0)
    rows = table_rows(db_conn, target.workflow_id)
    assert len(rows) == 5
    assert rows[0] == (
        target.window_start,
        target.window_end,
        "collection",
        target.source_id,
        target.user_id,
        date(2024, 1, 1),
        "Brand",
        date(2024, 1, 1),
        500,
        10,
        1,
        3.25,
        30.0,
        False,
    )
    assert isinstance(rows[0][12], float)
    # An unquoted empty field is NULL; the quoted campaign keeps its comma and quotes.
    assert [row[6] for row in rows] == [
        "Brand",
        'Brand, "quoted"',
        "Spring sale",
        "Spring sale",
        None,
    ]
    assert rows[4][7:] == (date(2024, 1, 4), None, None, None, None, None, True)

    expected_path = (
        tmp_path
        / "results"
        / str(target.workflow_id)
        / "collection"
        / str(target.source_id)
        / "2024-01-01.parquet"
    )
    assert published.parquet_path == expected_path == parquet_path(tmp_path / "results", target)
    parquet = pq.read_table(expected_path)
    assert parquet.num_rows == 5
    assert parquet.schema.field("impressions").type == pa.int64()
    assert parquet.schema.field("purchases").type == pa.int32()
    assert parquet.schema.field("event_date").type == pa.date32()
    assert parquet.schema.field("product_sales").type == pa.float64()
    assert parquet.schema.field("filtered").type == pa.bool_()
    assert sorted(parquet.column("clicks").to_pylist(), key=lambda v: (v is None, v)) == [
        3,
        10,
        50,
        80,
        None,
    ]
    assert published.parquet_bytes == expected_path.stat().st_size
    assert published.csv_bytes == (tmp_path / "a.csv").stat().st_size
    assert [p.name for p in expected_path.parent.iterdir()] == ["2024-01-01.parquet"]


def test_the_table_is_readable_by_its_owner_only(db_conn: Conn, tmp_path: Path) -> None:
    owner, other = add_owner(db_conn, "owner@example.com"), add_owner(db_conn, "other@example.com")
    workflow = uuid.uuid4()
    for user in (owner, other):
        publish(
            db_conn,
            tmp_path,
            [write_csv(tmp_path / f"{user}.csv", ROWS[:2])],
            make_target(workflow_id=workflow, user_id=user),
        )
    table = f"results.{results_table_name(workflow)}"

    assert one(db_conn, "select relrowsecurity from pg_class where oid = %s::regclass", (table,))
    seen: dict[uuid.UUID | None, list[tuple[Any, ...]]] = {}
    readers: tuple[uuid.UUID | None, ...] = (owner, other, None)
    for reader in readers:
        with db_conn.transaction(force_rollback=True):
            db_conn.execute("set local role authenticated")
            claims = json.dumps({"sub": str(reader)}) if reader else ""
            db_conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
            seen[reader] = db_conn.execute(
                f"select distinct user_id, count(*) from {table} group by user_id"
            ).fetchall()

    assert seen == {owner: [(owner, 2)], other: [(other, 2)], None: []}
    assert one(db_conn, f"select count(*) from {table}") == 4


def test_results_split_over_files_with_a_header_only_and_an_empty_file(
    db_conn: Conn, tmp_path: Path
) -> None:
    reordered = [HEADER[3], *HEADER[:3], *HEADER[4:]]
    moved = [[row[3], *row[:3], *row[4:]] for row in ROWS[2:]]
    files = [
        write_csv(tmp_path / "part-0.csv", ROWS[:2]),
        write_csv(tmp_path / "part-1.csv", []),
        write_csv(tmp_path / "part-2.csv", moved, header=reordered),
        tmp_path / "part-3.csv",
    ]
    files[3].write_bytes(b"")
    # A byte-order mark in front of a header is not part of the first column's name.
    files[2].write_bytes(b"\xef\xbb\xbf" + files[2].read_bytes())

    published = publish(db_conn, tmp_path, files)

    assert published.row_count == 5
    assert published.summary_stats["clicks_sum"] == 143
    assert published.csv_bytes == sum(path.stat().st_size for path in files)
    assert one(db_conn, f"select sum(clicks) from {published.results_table}") == 143
    # The reordered file's values landed in their own columns.
    assert db_conn.execute(
        f"select campaign, clicks, impressions from {published.results_table} "
        "where campaign like 'Brand%%' order by campaign"
    ).fetchall() == [("Brand", 10, 500), ('Brand, "quoted"', 3, 300)]
    assert pq.read_table(published.parquet_path).num_rows == 5


def test_publishing_the_same_week_again_changes_nothing(db_conn: Conn, tmp_path: Path) -> None:
    target = make_target()
    csv_path = write_csv(tmp_path / "a.csv", ROWS)
    first = publish(db_conn, tmp_path, [csv_path], target)
    before = table_rows(db_conn, target.workflow_id)
    file_before = pq.read_table(first.parquet_path)

    again = publish(db_conn, tmp_path, [csv_path], target)

    assert (again.row_count, again.replaced_row_count) == (5, 5)
    assert again.added_columns == ()
    assert again.checksum == first.checksum
    assert table_rows(db_conn, target.workflow_id) == before
    assert pq.read_table(again.parquet_path).equals(file_before)
    assert temp_files(tmp_path / "results") == []


def test_a_refresh_replaces_exactly_its_own_week(db_conn: Conn, tmp_path: Path) -> None:
    workflow, source = uuid.uuid4(), uuid.uuid4()
    week1 = make_target(workflow_id=workflow, source_id=source, week=date(2024, 1, 1))
    week2 = make_target(
        workflow_id=workflow, user_id=week1.user_id, source_id=source, week=date(2024, 1, 8)
    )
    publish(db_conn, tmp_path, [write_csv(tmp_path / "w1.csv", ROWS)], week1)
    publish(db_conn, tmp_path, [write_csv(tmp_path / "w2.csv", ROWS)], week2)
    week2_rows = [row for row in table_rows(db_conn, workflow) if row[5] == date(2024, 1, 8)]

    refreshed = publish(db_conn, tmp_path, [write_csv(tmp_path / "w1b.csv", ROWS[:1])], week1)

    assert (refreshed.row_count, refreshed.replaced_row_count) == (1, 5)
    assert week_counts(db_conn, workflow) == {date(2024, 1, 1): 1, date(2024, 1, 8): 5}
    assert [row for row in table_rows(db_conn, workflow) if row[5] == date(2024, 1, 8)] == (
        week2_rows
    )
    assert pq.read_table(refreshed.parquet_path).num_rows == 1
    assert pq.read_table(parquet_path(tmp_path / "results", week2)).num_rows == 5


def test_the_checksum_ignores_row_order_and_file_split_but_not_values(
    db_conn: Conn, tmp_path: Path
) -> None:
    whole = load_and_discard(db_conn, tmp_path, [write_csv(tmp_path / "whole.csv", ROWS)])
    split = load_and_discard(
        db_conn,
        tmp_path,
        [
            write_csv(tmp_path / "part-0.csv", list(reversed(ROWS[2:]))),
            write_csv(tmp_path / "part-1.csv", []),
            write_csv(tmp_path / "part-2.csv", list(reversed(ROWS[:2]))),
        ],
    )
    changed_rows = [list(row) for row in ROWS]
    changed_rows[1][3] = "81"
    changed = load_and_discard(
        db_conn, tmp_path, [write_csv(tmp_path / "changed.csv", changed_rows)]
    )
    # Same values per column, but two rows exchanged their clicks.
    swapped_rows = [list(row) for row in ROWS]
    swapped_rows[0][3], swapped_rows[1][3] = swapped_rows[1][3], swapped_rows[0][3]
    swapped = load_and_discard(
        db_conn, tmp_path, [write_csv(tmp_path / "swapped.csv", swapped_rows)]
    )

    assert len(whole.checksum) == 64
    assert split.checksum == whole.checksum
    assert changed.checksum != whole.checksum
    assert swapped.checksum != whole.checksum
    # The same checksum whether the week is published or not.
    assert publish(db_conn, tmp_path, [tmp_path / "whole.csv"]).checksum == whole.checksum


def test_a_column_that_appears_in_a_later_week_is_added(db_conn: Conn, tmp_path: Path) -> None:
    workflow, _, week2, _ = three_weeks(db_conn, tmp_path)

    published = publish(
        db_conn,
        tmp_path,
        [units_sold_csv(tmp_path / "w2.csv", ROWS[:2])],
        week2,
        WITH_UNITS_SOLD,
    )

    assert published.added_columns == ("units_sold",)
    assert [column.name for column in published.expected_columns] == HEADER
    assert column_types(db_conn, results_table_name(workflow))["units_sold"] == "bigint null"
    assert db_conn.execute(
        f"select week_start_date, count(units_sold), sum(units_sold) "
        f"from {published.results_table} group by 1 order by 1"
    ).fetchall() == [(date(2024, 1, 1), 0, None), (date(2024, 1, 8), 2, Decimal(14))]
    assert pq.read_table(published.parquet_path).column("units_sold").to_pylist() == [7, 7]


def test_a_column_that_changed_type_is_refused_not_cast(db_conn: Conn, tmp_path: Path) -> None:
    workflow = uuid.uuid4()
    week1 = make_target(workflow_id=workflow, week=date(2024, 1, 1))
    publish(db_conn, tmp_path, [write_csv(tmp_path / "w1.csv", ROWS)], week1)
    published_rows = table_rows(db_conn, workflow)
    drifted = [
        {**column, "dataType": "STRING"} if column["name"] == "clicks" else column
        for column in OUTPUT_COLUMNS
    ]
    week2 = make_target(workflow_id=workflow, week=date(2024, 1, 8))
    table = results_table_name(workflow)

    with (
        pytest.raises(SchemaDriftError, match="'clicks' is bigint in the published table but text"),
        loading(db_conn, tmp_path, [write_csv(tmp_path / "w2.csv", ROWS)], week2, drifted) as week,
    ):
        # The week is loaded apart from the published table, for its checks to read.
        assert week.drifts == (SchemaDrift("clicks", "bigint", "text"),)
        assert week.results_table == f"results.{table}"
        assert [column.name for column in week.expected_columns] == HEADER
        assert week.added_columns == ()
        assert week.row_count == 5
        week_table = week.table.as_string(db_conn)
        assert week_table != week.results_table
        assert one(db_conn, "select to_regclass(%s)", (week_table,)) is not None
        loaded_clicks = db_conn.execute(
            sql.SQL("select clicks from {} where {} order by clicks").format(week.table, week.rows)
        ).fetchall()
        assert loaded_clicks == [("10",), ("3",), ("50",), ("80",), (None,)]
        assert len(preview_rows(db_conn, week)) == 5
        # The published table is untouched even inside the transaction.
        assert table_rows(db_conn, workflow) == published_rows

    assert week.state is WeekState.DISCARDED and not week.published
    assert one(db_conn, "select to_regclass(%s)", (week_table,)) is None
    assert column_types(db_conn, table)["clicks"] == "bigint null"
    assert table_rows(db_conn, workflow) == published_rows
    assert not parquet_path(tmp_path / "results", week2).exists()
    assert temp_files(tmp_path / "results") == []

    # Discarded by its checks, the same week ends its block without an error.
    discarded = load_and_discard(
        db_conn, tmp_path, [write_csv(tmp_path / "w2b.csv", ROWS)], week2, drifted
    )
    assert discarded.drifts == (SchemaDrift("clicks", "bigint", "text"),)
    assert table_rows(db_conn, workflow) == published_rows
    assert not parquet_path(tmp_path / "results", week2).exists()


def test_a_schedule_window_gets_its_own_file_and_no_week_date(
    db_conn: Conn, tmp_path: Path
) -> None:
    target = make_target(source_kind="schedule")

    published = publish(db_conn, tmp_path, [write_csv(tmp_path / "a.csv", ROWS)], target)

    assert published.parquet_path.name == "20240101T000000_20240108T000000.parquet"
    assert published.parquet_path.parent.parent.name == "schedule"
    assert published.parquet_path.exists()
    assert db_conn.execute(
        f"select distinct source_kind, source_id, week_start_date from {published.results_table}"
    ).fetchall() == [("schedule", target.source_id, None)]


def test_timestamps_with_or_without_a_zone_suffix_agree_in_table_and_parquet(
    db_conn: Conn, tmp_path: Path
) -> None:
    columns = [
        {"name": "event_dt", "dataType": "TIMESTAMP", "columnType": "DIMENSION"},
        {"name": "impressions", "dataType": "LONG", "columnType": "METRIC"},
    ]
    rows = [
        ["2024-01-02T03:04:05.250Z", "1"],
        ["2024-01-02 03:04:05", "2"],
        ["2024-01-02T03:04:05+02:00", "3"],
        ["2024-01-03", "4"],
        ["", "5"],
    ]
    published = publish(
        db_conn,
        tmp_path,
        [write_csv(tmp_path / "a.csv", rows, header=["event_dt", "impressions"])],
        output_columns=columns,
    )

    in_table = [
        row[0]
        for row in db_conn.execute(
            f"select event_dt from {published.results_table} order by impressions"
        ).fetchall()
    ]
    assert in_table == [
        datetime(2024, 1, 2, 3, 4, 5, 250000),
        datetime(2024, 1, 2, 3, 4, 5),
        datetime(2024, 1, 2, 3, 4, 5),
        datetime(2024, 1, 3),
        None,
    ]
    assert pq.read_table(published.parquet_path).column("event_dt").to_pylist() == in_table


def test_an_unknown_type_is_stored_as_text(db_conn: Conn, tmp_path: Path) -> None:
    columns = [
        {"name": "asins", "dataType": "ARRAY", "columnType": "DIMENSION"},
        {"name": "impressions", "dataType": "LONG", "columnType": "METRIC"},
    ]

    published = publish(
        db_conn,
        tmp_path,
        [write_csv(tmp_path / "a.csv", [["[B0001, B0002]", "3"]], header=["asins", "impressions"])],
        output_columns=columns,
    )

    assert [c.name for c in published.untyped_columns] == ["asins"]
    table = results_table_name(published.target.workflow_id)
    assert column_types(db_conn, table)["asins"] == "text null"
    assert db_conn.execute(f"select asins, impressions from results.{table}").fetchall() == [
        ("[B0001, B0002]", 3)
    ]


def test_a_bad_value_fails_the_load_and_leaves_nothing_behind(
    db_conn: Conn, tmp_path: Path
) -> None:
    rows = [list(row) for row in ROWS]
    rows[3][2] = "lots"
    target = make_target()
    entered = False

    with (
        pytest.raises(LoadError, match=r"bad\.csv.*lots"),
        loading(db_conn, tmp_path, [write_csv(tmp_path / "bad.csv", rows)], target),
    ):
        entered = True

    assert not entered
    # The table the first week created went with the transaction.
    assert not table_exists(db_conn, target.workflow_id)
    assert db_conn.info.transaction_status is psycopg.pq.TransactionStatus.IDLE
    assert temp_files(tmp_path / "results") == []
    assert not parquet_path(tmp_path / "results", target).exists()


def test_a_bad_value_in_a_refresh_keeps_the_published_week(db_conn: Conn, tmp_path: Path) -> None:
    target = make_target()
    first = publish(db_conn, tmp_path, [write_csv(tmp_path / "good.csv", ROWS)], target)
    before = table_rows(db_conn, target.workflow_id)
    file_before = first.parquet_path.read_bytes()
    rows = [list(row) for row in ROWS]
    rows[1][4] = "2.5"

    with (
        pytest.raises(LoadError, match=r"bad\.csv.*2\.5"),
        loading(db_conn, tmp_path, [write_csv(tmp_path / "bad.csv", rows)], target),
    ):
        pass

    assert table_rows(db_conn, target.workflow_id) == before
    assert first.parquet_path.read_bytes() == file_before
    assert temp_files(tmp_path / "results") == []


def test_a_row_the_table_refuses_mid_copy_fails_the_load_and_stops_reading(
    db_conn: Conn, tmp_path: Path
) -> None:
    target = make_target()
    publish(db_conn, tmp_path, [write_csv(tmp_path / "good.csv", ROWS)], target)
    table = f"results.{results_table_name(target.workflow_id)}"
    db_conn.execute(f"alter table {table} add constraint few_clicks check (clicks < 1000000)")
    before = table_rows(db_conn, target.workflow_id)
    # Far more rows than one block, the refused one near the start: PostgreSQL ends the COPY
    # while the files are still being read and encoded.
    many = [["c", "2024-01-01", "5", "1", "0", "1.0", "1", "false"] for _ in range(200_000)]
    many[10][3] = "5000000"
    threads_before = threading.active_count()

    with (
        pytest.raises(LoadError, match="few_clicks"),
        loading(db_conn, tmp_path, [write_csv(tmp_path / "many.csv", many)], target),
    ):
        pass

    assert table_rows(db_conn, target.workflow_id) == before
    assert db_conn.info.transaction_status is psycopg.pq.TransactionStatus.IDLE
    assert temp_files(tmp_path / "results") == []
    # The encoding and Parquet threads were stopped, not left reading.
    assert threading.active_count() == threads_before


def test_a_file_whose_header_does_not_match_output_columns_is_refused(
    db_conn: Conn, tmp_path: Path
) -> None:
    target = make_target()

    with (
        pytest.raises(
            ResultFileError, match=r"wrong\.csv.*unknown \['clickz'\].*missing \['clicks'\]"
        ),
        loading(
            db_conn,
            tmp_path,
            [write_csv(tmp_path / "wrong.csv", ROWS, header=[*HEADER[:3], "clickz", *HEADER[4:]])],
            target,
        ),
    ):
        pass

    assert not table_exists(db_conn, target.workflow_id)
    assert not (tmp_path / "results").exists()


def test_loading_refuses_a_connection_inside_a_transaction(db_conn: Conn, tmp_path: Path) -> None:
    target = make_target()

    with (
        db_conn.transaction(force_rollback=True),
        pytest.raises(LoadError, match="outside any transaction"),
        loading(db_conn, tmp_path, [write_csv(tmp_path / "a.csv", ROWS)], target),
    ):
        pass

    assert not table_exists(db_conn, target.workflow_id)
    assert temp_files(tmp_path / "results") == []


def test_the_preview_is_bounded_and_json_safe(db_conn: Conn, tmp_path: Path) -> None:
    rows = [
        ["c", "2024-01-01", str(n), "1", "0", "NaN" if n == 0 else "1.5", "2.5", "false"]
        for n in range(30)
    ]

    with loading(db_conn, tmp_path, [write_csv(tmp_path / "a.csv", rows)]) as week:
        preview = preview_rows(db_conn, week)
        assert len(preview_rows(db_conn, week, limit=3)) == 3
        assert preview_rows(db_conn, week, limit=0) == []
        with pytest.raises(ValueError, match="preview limit -1"):
            preview_rows(db_conn, week, limit=-1)

    assert len(preview) == 20
    nan_row = next(row for row in preview if row["impressions"] == 0)
    assert nan_row == {
        "campaign": "c",
        "event_date": "2024-01-01",
        "impressions": 0,
        "clicks": 1,
        "purchases": 0,
        "spend": None,
        "product_sales": 2.5,
        "filtered": False,
    }
    json.dumps(preview, allow_nan=False)
    # The same rows are read once the week is published.
    assert len(preview_rows(db_conn, week, limit=30)) == 30


def test_a_reader_never_sees_a_half_replaced_week(
    db_url: str, db_conn: Conn, tmp_path: Path
) -> None:
    target = make_target()
    many = [["c", "2024-01-01", str(n), "1", "0", "1.0", "1", "false"] for n in range(20000)]
    publish(db_conn, tmp_path, [write_csv(tmp_path / "old.csv", many[:5000])], target)
    table = f"results.{results_table_name(target.workflow_id)}"
    counts: list[int] = []
    done = threading.Event()

    def read() -> None:
        with psycopg.connect(db_url, autocommit=True) as reader:
            while not done.is_set():
                counts.append(one(reader, f"select count(*) from {table}"))

    reader_thread = threading.Thread(target=read, daemon=True)
    reader_thread.start()
    try:
        wait_until(lambda: len(counts) > 0, "the reader reads")
        with loading(db_conn, tmp_path, [write_csv(tmp_path / "new.csv", many)], target) as week:
            # The loading transaction sees its own rows; the reader keeps the published ones.
            assert one(db_conn, f"select count(*) from {table}") == 20000
            loaded_at = len(counts)
            wait_until(lambda: len(counts) >= loaded_at + 3, "the reader reads the loaded week")
            while_open = counts[loaded_at:]
        wait_until(lambda: counts[-1] == 20000, "the reader sees the published week")
    finally:
        done.set()
        reader_thread.join(WAIT_SECONDS)

    assert week.published
    assert set(while_open) == {5000}
    assert set(counts) <= {5000, 20000}
    assert one(db_conn, f"select count(*) from {table}") == 20000


def test_a_discarded_week_keeps_the_previous_rows_and_file(db_conn: Conn, tmp_path: Path) -> None:
    target = make_target()
    first = publish(db_conn, tmp_path, [write_csv(tmp_path / "a.csv", ROWS)], target)
    before = table_rows(db_conn, target.workflow_id)
    file_before = first.parquet_path.read_bytes()

    with loading(db_conn, tmp_path, [write_csv(tmp_path / "b.csv", ROWS[:1])], target) as week:
        assert (week.row_count, week.replaced_row_count) == (1, 5)
        assert len(table_rows(db_conn, target.workflow_id)) == 1
        assert len(temp_files(tmp_path / "results")) == 1
        week.discard()
        assert week.state is WeekState.LOADED

    assert week.state is WeekState.DISCARDED and not week.published
    assert table_rows(db_conn, target.workflow_id) == before
    assert first.parquet_path.read_bytes() == file_before
    assert temp_files(tmp_path / "results") == []
    with pytest.raises(LoadError, match="already discarded"):
        week.discard()


def test_a_discarded_first_week_leaves_no_table_and_no_file(db_conn: Conn, tmp_path: Path) -> None:
    target = make_target()

    with loading(db_conn, tmp_path, [write_csv(tmp_path / "a.csv", ROWS)], target) as week:
        assert table_exists(db_conn, target.workflow_id)
        week.discard()

    assert not table_exists(db_conn, target.workflow_id)
    assert not week.parquet_path.exists()
    assert temp_files(tmp_path / "results") == []


def test_a_published_week_cannot_be_discarded(db_conn: Conn, tmp_path: Path) -> None:
    target = make_target()
    week = publish(db_conn, tmp_path, [write_csv(tmp_path / "a.csv", ROWS)], target)

    with pytest.raises(LoadError, match="already published"):
        week.discard()

    assert week.published
    assert len(table_rows(db_conn, target.workflow_id)) == 5


def test_an_exception_in_the_block_rolls_the_week_back(db_conn: Conn, tmp_path: Path) -> None:
    target = make_target()
    first = publish(db_conn, tmp_path, [write_csv(tmp_path / "a.csv", ROWS)], target)
    before = table_rows(db_conn, target.workflow_id)
    file_before = first.parquet_path.read_bytes()

    with (
        pytest.raises(RuntimeError, match="checks crashed"),
        loading(db_conn, tmp_path, [write_csv(tmp_path / "b.csv", ROWS[:1])], target) as week,
    ):
        assert len(temp_files(tmp_path / "results")) == 1
        raise RuntimeError("checks crashed")

    assert week.state is WeekState.DISCARDED and not week.published
    assert db_conn.info.transaction_status is psycopg.pq.TransactionStatus.IDLE
    assert table_rows(db_conn, target.workflow_id) == before
    assert first.parquet_path.read_bytes() == file_before
    assert temp_files(tmp_path / "results") == []


def test_only_old_temporary_files_are_removed(db_conn: Conn, tmp_path: Path) -> None:
    root = tmp_path / "results"
    assert remove_abandoned_files(root) == 0

    published = publish(db_conn, tmp_path, [write_csv(tmp_path / "a.csv", ROWS)])
    folder = published.parquet_path.parent
    abandoned = folder / f".2024-01-08.parquet.{uuid.uuid4().hex}.tmp"
    recent = folder / f".2024-01-15.parquet.{uuid.uuid4().hex}.tmp"
    for path in (abandoned, recent):
        path.write_bytes(b"partial")
    two_days_ago = time.time() - 2 * 86400
    for path in (abandoned, published.parquet_path):
        os.utime(path, (two_days_ago, two_days_ago))

    assert remove_abandoned_files(root, older_than=timedelta(days=3)) == 0
    assert abandoned.exists()

    target = make_target(week=date(2024, 1, 22))
    with loading(db_conn, tmp_path, [write_csv(tmp_path / "b.csv", ROWS)], target) as week:
        in_progress = set(temp_files(root)) - {abandoned, recent}
        assert len(in_progress) == 1
        assert remove_abandoned_files(root) == 1

    assert not abandoned.exists()
    assert recent.exists()
    assert published.parquet_path.exists()
    # The load whose file was in progress published it.
    assert week.published
    assert pq.read_table(week.parquet_path).num_rows == 5
    assert not any(path.exists() for path in in_progress)


def test_two_weeks_of_a_workflow_load_at_once_but_one_week_loads_once_at_a_time(
    db_url: str, db_conn: Conn, tmp_path: Path
) -> None:
    workflow, source = uuid.uuid4(), uuid.uuid4()

    def week_of(day: date) -> ResultTarget:
        return make_target(workflow_id=workflow, source_id=source, week=day)

    week1, week2, week3 = (week_of(date(2024, 1, d)) for d in (1, 8, 15))
    publish(db_conn, tmp_path, [write_csv(tmp_path / "w1.csv", ROWS)], week1)

    with (
        psycopg.connect(db_url, autocommit=True) as other,
        psycopg.connect(db_url, autocommit=True) as observer,
    ):
        # Another week commits while this one is still open.
        with loading(db_conn, tmp_path, [write_csv(tmp_path / "w2.csv", ROWS[:2])], week2):
            elsewhere = InThread(
                lambda: publish(other, tmp_path, [write_csv(tmp_path / "w3.csv", ROWS[:3])], week3)
            )
            assert elsewhere.result().published
            assert week_counts(observer, workflow) == {date(2024, 1, 1): 5, date(2024, 1, 15): 3}
        assert week_counts(observer, workflow) == {
            date(2024, 1, 1): 5,
            date(2024, 1, 8): 2,
            date(2024, 1, 15): 3,
        }

        # A second load of the same week waits for the first one's commit, then replaces it.
        with loading(
            db_conn, tmp_path, [write_csv(tmp_path / "w1b.csv", ROWS[:1])], week1
        ) as first:
            second = InThread(
                lambda: publish(other, tmp_path, [write_csv(tmp_path / "w1c.csv", ROWS[:4])], week1)
            )
            assert lock_waited_for(observer, other.info.backend_pid) == "advisory"
            assert second.running()
            assert week_counts(observer, workflow)[date(2024, 1, 1)] == 5
        reloaded = second.result()

    assert first.published and (first.row_count, first.replaced_row_count) == (1, 5)
    assert reloaded.published and (reloaded.row_count, reloaded.replaced_row_count) == (4, 1)
    assert week_counts(db_conn, workflow) == {
        date(2024, 1, 1): 4,
        date(2024, 1, 8): 2,
        date(2024, 1, 15): 3,
    }


def test_the_parquet_file_is_the_one_of_the_rows_committed_last(
    db_url: str, db_conn: Conn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = make_target()
    publish(db_conn, tmp_path, [write_csv(tmp_path / "w0.csv", ROWS)], target)
    main = threading.current_thread()
    move = os.replace

    def slow_move(source: Any, destination: Any) -> None:
        # The first load pauses between its commit and moving its file into place.
        if threading.current_thread() is main:
            time.sleep(1.0)
        move(source, destination)

    monkeypatch.setattr(os, "replace", slow_move)
    with (
        psycopg.connect(db_url, autocommit=True) as other,
        psycopg.connect(db_url, autocommit=True) as observer,
    ):
        with loading(db_conn, tmp_path, [write_csv(tmp_path / "w1.csv", ROWS[:1])], target):
            second = InThread(
                lambda: publish(other, tmp_path, [write_csv(tmp_path / "w2.csv", ROWS[:4])], target)
            )
            assert lock_waited_for(observer, other.info.backend_pid) == "advisory"
        last = second.result()

    assert week_counts(db_conn, target.workflow_id) == {date(2024, 1, 1): 4}
    assert pq.read_table(last.parquet_path).num_rows == 4
    assert temp_files(tmp_path / "results") == []


def test_a_week_adding_a_column_waits_for_another_open_week_then_adds_it(
    db_url: str, db_conn: Conn, tmp_path: Path
) -> None:
    # Adding a column needs the table to itself: it waits until the open week commits (which
    # can still read its rows meanwhile), then goes ahead.
    workflow, _, week2, week3 = three_weeks(db_conn, tmp_path)
    later_file = units_sold_csv(tmp_path / "w3.csv", ROWS[:3])

    with (
        psycopg.connect(db_url, autocommit=True) as other,
        psycopg.connect(db_url, autocommit=True) as observer,
    ):
        with loading(
            db_conn, tmp_path, [write_csv(tmp_path / "w2.csv", ROWS[:2])], week2
        ) as open_week:
            adding = InThread(
                lambda: publish(other, tmp_path, [later_file], week3, WITH_UNITS_SOLD)
            )
            assert lock_waited_for(observer, other.info.backend_pid) == "relation"
            assert adding.running()
            # The open week's checks still read its rows while the other load waits.
            assert len(preview_rows(db_conn, open_week)) == 2
        added = adding.result()

    assert open_week.published
    assert added.published and added.added_columns == ("units_sold",)
    assert column_types(db_conn, results_table_name(workflow))["units_sold"] == "bigint null"
    assert db_conn.execute(
        f"select week_start_date, count(*), count(units_sold), sum(units_sold) "
        f"from {added.results_table} group by 1 order by 1"
    ).fetchall() == [
        (date(2024, 1, 1), 5, 0, None),
        (date(2024, 1, 8), 2, 0, None),
        (date(2024, 1, 15), 3, 3, Decimal(21)),
    ]


def test_another_week_waits_while_a_week_adding_a_column_is_open(
    db_url: str, db_conn: Conn, tmp_path: Path
) -> None:
    _, _, week2, week3 = three_weeks(db_conn, tmp_path)
    later_file = units_sold_csv(tmp_path / "w2.csv", ROWS[:2])

    with (
        psycopg.connect(db_url, autocommit=True) as other,
        psycopg.connect(db_url, autocommit=True) as observer,
    ):
        with loading(db_conn, tmp_path, [later_file], week2, WITH_UNITS_SOLD) as adding:
            assert adding.added_columns == ("units_sold",)
            plain = InThread(
                lambda: publish(other, tmp_path, [write_csv(tmp_path / "w3.csv", ROWS[:3])], week3)
            )
            assert lock_waited_for(observer, other.info.backend_pid) == "relation"
            assert plain.running()
        loaded = plain.result()

    assert adding.published and loaded.published
    assert loaded.added_columns == ()
    assert db_conn.execute(
        f"select week_start_date, count(*), count(units_sold) "
        f"from {loaded.results_table} group by 1 order by 1"
    ).fetchall() == [(date(2024, 1, 1), 5, 0), (date(2024, 1, 8), 2, 2), (date(2024, 1, 15), 3, 0)]
