"""A week's CSV files staged, published as a typed table and a Parquet file, and replaced."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recomamp_pipelines.results import (
    SchemaDriftError,
    StagedWeek,
    StagingError,
    discard_staged_week,
    drop_abandoned_staging,
    parquet_path,
    preview_rows,
    publish_week,
    results_table_name,
    stage_week,
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


def stage(
    conn: Conn,
    tmp_path: Path,
    files: list[Path],
    target: object | None = None,
    output_columns: list[dict[str, str]] = OUTPUT_COLUMNS,
) -> StagedWeek:
    return stage_week(
        conn,
        files,
        output_columns,
        target or make_target(),  # type: ignore[arg-type]
        results_root=tmp_path / "results",
    )


def table_rows(conn: Conn, workflow_id: uuid.UUID) -> list[tuple[object, ...]]:
    table = results_table_name(workflow_id)
    return conn.execute(f"select * from results.{table} order by campaign, event_date").fetchall()


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


def test_a_first_week_creates_the_typed_table_and_its_parquet_file(
    db_conn: Conn, tmp_path: Path
) -> None:
    target = make_target()
    staged = stage(db_conn, tmp_path, [write_csv(tmp_path / "a.csv", ROWS)], target)

    published = publish_week(db_conn, staged)

    table = results_table_name(target.workflow_id)
    assert table == f"workflow_{target.workflow_id.hex}"
    assert published.results_table == f"results.{table}"
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
        "product_sales": "numeric null",
        "filtered": "boolean null",
    }
    assert (published.row_count, published.replaced_row_count) == (5, 0)
    first = table_rows(db_conn, target.workflow_id)[0]
    assert first == (
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
        Decimal("30"),
        False,
    )
    # An unquoted empty field is NULL; the quoted campaign keeps its comma and quotes.
    campaigns = [row[6] for row in table_rows(db_conn, target.workflow_id)]
    assert campaigns == ["Brand", 'Brand, "quoted"', "Spring sale", "Spring sale", None]

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
    assert parquet.schema.field("filtered").type == pa.bool_()
    assert published.parquet_bytes == expected_path.stat().st_size
    assert published.csv_bytes == (tmp_path / "a.csv").stat().st_size
    assert [p.name for p in expected_path.parent.iterdir()] == ["2024-01-01.parquet"]


def test_the_table_is_readable_by_its_owner_only(db_conn: Conn, tmp_path: Path) -> None:
    owner, other = add_owner(db_conn, "owner@example.com"), add_owner(db_conn, "other@example.com")
    workflow = uuid.uuid4()
    for user in (owner, other):
        staged = stage(
            db_conn,
            tmp_path,
            [write_csv(tmp_path / f"{user}.csv", ROWS[:2])],
            make_target(workflow_id=workflow, user_id=user),
        )
        publish_week(db_conn, staged)
    table = f"results.{results_table_name(workflow)}"

    assert one(db_conn, "select relrowsecurity from pg_class where oid = %s::regclass", (table,))
    seen = {}
    for user in (owner, other, None):
        with db_conn.transaction(force_rollback=True):
            db_conn.execute("set local role authenticated")
            claims = json.dumps({"sub": str(user)}) if user else ""
            db_conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
            seen[user] = db_conn.execute(
                f"select distinct user_id, count(*) from {table} group by user_id"
            ).fetchall()

    assert seen == {owner: [(owner, 2)], other: [(other, 2)], None: []}


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

    staged = stage(db_conn, tmp_path, files)
    published = publish_week(db_conn, staged)

    assert staged.row_count == published.row_count == 5
    assert staged.summary_stats["clicks_sum"] == 143
    assert one(db_conn, f"select sum(clicks) from {published.results_table}") == 143
    assert pq.read_table(published.parquet_path).num_rows == 5


def test_the_staging_table_is_unlogged_and_gone_after_publish(
    db_conn: Conn, tmp_path: Path
) -> None:
    staged = stage(db_conn, tmp_path, [write_csv(tmp_path / "a.csv", ROWS)])
    name = f"results_staging.{staged.staging_table_name}"

    assert (
        one(db_conn, "select relpersistence from pg_class where oid = %s::regclass", (name,)) == "u"
    )
    assert staged.parquet_temp_path.exists() and not staged.parquet_path.exists()

    publish_week(db_conn, staged)

    assert one(db_conn, "select to_regclass(%s)", (name,)) is None
    assert staged.parquet_path.exists() and not staged.parquet_temp_path.exists()


def test_publishing_the_same_week_again_changes_nothing(db_conn: Conn, tmp_path: Path) -> None:
    target = make_target()
    csv_path = write_csv(tmp_path / "a.csv", ROWS)
    first = publish_week(db_conn, stage(db_conn, tmp_path, [csv_path], target))
    before = table_rows(db_conn, target.workflow_id)
    file_before = pq.read_table(first.parquet_path)

    again = publish_week(db_conn, stage(db_conn, tmp_path, [csv_path], target))

    assert (again.row_count, again.replaced_row_count) == (5, 5)
    assert again.checksum == first.checksum
    assert table_rows(db_conn, target.workflow_id) == before
    assert pq.read_table(again.parquet_path).equals(file_before)


def test_a_refresh_replaces_exactly_its_own_week(db_conn: Conn, tmp_path: Path) -> None:
    workflow, source = uuid.uuid4(), uuid.uuid4()
    week1 = make_target(workflow_id=workflow, source_id=source, week=date(2024, 1, 1))
    week2 = make_target(
        workflow_id=workflow, user_id=week1.user_id, source_id=source, week=date(2024, 1, 8)
    )
    publish_week(db_conn, stage(db_conn, tmp_path, [write_csv(tmp_path / "w1.csv", ROWS)], week1))
    publish_week(db_conn, stage(db_conn, tmp_path, [write_csv(tmp_path / "w2.csv", ROWS)], week2))

    refreshed = stage(db_conn, tmp_path, [write_csv(tmp_path / "w1b.csv", ROWS[:1])], week1)
    published = publish_week(db_conn, refreshed)

    assert (published.row_count, published.replaced_row_count) == (1, 5)
    counts = db_conn.execute(
        f"select week_start_date, count(*) from {published.results_table} group by 1 order by 1"
    ).fetchall()
    assert counts == [(date(2024, 1, 1), 1), (date(2024, 1, 8), 5)]


def test_the_checksum_ignores_row_order_and_file_split_but_not_values(
    db_conn: Conn, tmp_path: Path
) -> None:
    whole = stage(db_conn, tmp_path, [write_csv(tmp_path / "whole.csv", ROWS)])
    split = stage(
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
    changed = stage(db_conn, tmp_path, [write_csv(tmp_path / "changed.csv", changed_rows)])
    # Same values per column, but two rows exchanged their clicks.
    swapped_rows = [list(row) for row in ROWS]
    swapped_rows[0][3], swapped_rows[1][3] = swapped_rows[1][3], swapped_rows[0][3]
    swapped = stage(db_conn, tmp_path, [write_csv(tmp_path / "swapped.csv", swapped_rows)])

    assert len(whole.checksum) == 64
    assert split.checksum == whole.checksum
    assert changed.checksum != whole.checksum
    assert swapped.checksum != whole.checksum


def test_a_column_that_appears_in_a_later_week_is_added(db_conn: Conn, tmp_path: Path) -> None:
    workflow = uuid.uuid4()
    week1 = make_target(workflow_id=workflow, week=date(2024, 1, 1))
    publish_week(db_conn, stage(db_conn, tmp_path, [write_csv(tmp_path / "w1.csv", ROWS)], week1))
    later_columns = [*OUTPUT_COLUMNS, {"name": "units_sold", "dataType": "LONG"}]
    later_rows = [[*row, "7"] for row in ROWS[:2]]
    week2 = make_target(workflow_id=workflow, week=date(2024, 1, 8))

    published = publish_week(
        db_conn,
        stage(
            db_conn,
            tmp_path,
            [write_csv(tmp_path / "w2.csv", later_rows, header=[*HEADER, "units_sold"])],
            week2,
            later_columns,
        ),
    )

    assert published.added_columns == ("units_sold",)
    assert column_types(db_conn, results_table_name(workflow))["units_sold"] == "bigint null"
    assert db_conn.execute(
        f"select week_start_date, count(units_sold), sum(units_sold) "
        f"from {published.results_table} group by 1 order by 1"
    ).fetchall() == [(date(2024, 1, 1), 0, None), (date(2024, 1, 8), 2, Decimal(14))]


def test_a_column_that_changed_type_is_refused_not_cast(db_conn: Conn, tmp_path: Path) -> None:
    workflow = uuid.uuid4()
    week1 = make_target(workflow_id=workflow, week=date(2024, 1, 1))
    publish_week(db_conn, stage(db_conn, tmp_path, [write_csv(tmp_path / "w1.csv", ROWS)], week1))
    drifted = [
        {**column, "dataType": "STRING"} if column["name"] == "clicks" else column
        for column in OUTPUT_COLUMNS
    ]
    staged = stage(
        db_conn,
        tmp_path,
        [write_csv(tmp_path / "w2.csv", ROWS)],
        make_target(workflow_id=workflow, week=date(2024, 1, 8)),
        drifted,
    )

    with pytest.raises(
        SchemaDriftError, match="'clicks' is bigint in the published table but text"
    ):
        publish_week(db_conn, staged)

    table = results_table_name(workflow)
    assert column_types(db_conn, table)["clicks"] == "bigint null"
    assert one(db_conn, f"select count(*) from results.{table}") == 5
    assert not staged.parquet_path.exists()

    discard_staged_week(db_conn, staged)

    assert (
        one(db_conn, "select to_regclass(%s)", (f"results_staging.{staged.staging_table_name}",))
        is None
    )
    assert not staged.parquet_temp_path.exists()


def test_a_schedule_window_gets_its_own_file_and_no_week_date(
    db_conn: Conn, tmp_path: Path
) -> None:
    target = make_target(source_kind="schedule")

    published = publish_week(
        db_conn, stage(db_conn, tmp_path, [write_csv(tmp_path / "a.csv", ROWS)], target)
    )

    assert published.parquet_path.name == "20240101T000000_20240108T000000.parquet"
    assert published.parquet_path.parent.parent.name == "schedule"
    assert db_conn.execute(
        f"select distinct source_kind, week_start_date from {published.results_table}"
    ).fetchall() == [("schedule", None)]


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
    staged = stage(
        db_conn,
        tmp_path,
        [write_csv(tmp_path / "a.csv", rows, header=["event_dt", "impressions"])],
        output_columns=columns,
    )
    published = publish_week(db_conn, staged)

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
    staged = stage(
        db_conn,
        tmp_path,
        [write_csv(tmp_path / "a.csv", [["[B0001, B0002]", "3"]], header=["asins", "impressions"])],
        output_columns=columns,
    )

    published = publish_week(db_conn, staged)

    assert [c.name for c in staged.untyped_columns] == ["asins"]
    assert (
        column_types(db_conn, results_table_name(staged.target.workflow_id))["asins"] == "text null"
    )
    assert one(db_conn, f"select asins from {published.results_table}") == "[B0001, B0002]"


def test_a_bad_value_fails_staging_and_leaves_nothing_behind(db_conn: Conn, tmp_path: Path) -> None:
    rows = [list(row) for row in ROWS]
    rows[3][2] = "lots"
    target = make_target()

    with pytest.raises(StagingError, match=r"bad\.csv.*lots"):
        stage(db_conn, tmp_path, [write_csv(tmp_path / "bad.csv", rows)], target)

    assert (
        one(
            db_conn,
            "select count(*) from pg_tables where schemaname = 'results_staging'",
        )
        == 0
    )
    folder = parquet_path(tmp_path / "results", target).parent
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_file_whose_header_does_not_match_output_columns_is_refused(
    db_conn: Conn, tmp_path: Path
) -> None:
    with pytest.raises(
        ResultFileError, match=r"wrong\.csv.*unknown \['clickz'\].*missing \['clicks'\]"
    ):
        stage(
            db_conn,
            tmp_path,
            [write_csv(tmp_path / "wrong.csv", ROWS, header=[*HEADER[:3], "clickz", *HEADER[4:]])],
        )


def test_staging_refuses_a_connection_inside_a_transaction(db_conn: Conn, tmp_path: Path) -> None:
    with db_conn.transaction(), pytest.raises(StagingError, match="outside any transaction"):
        stage(db_conn, tmp_path, [write_csv(tmp_path / "a.csv", ROWS)])


def test_the_preview_is_bounded_and_json_safe(db_conn: Conn, tmp_path: Path) -> None:
    rows = [
        ["c", "2024-01-01", str(n), "1", "0", "NaN" if n == 0 else "1.5", "2.5", "false"]
        for n in range(30)
    ]
    staged = stage(db_conn, tmp_path, [write_csv(tmp_path / "a.csv", rows)])

    preview = preview_rows(db_conn, staged)

    assert len(preview) == 20
    assert len(preview_rows(db_conn, staged, limit=3)) == 3
    assert preview[0] == {
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


def test_a_reader_never_sees_a_half_replaced_week(
    db_url: str, db_conn: Conn, tmp_path: Path
) -> None:
    import psycopg

    target = make_target()
    many = [["c", "2024-01-01", str(n), "1", "0", "1.0", "1", "false"] for n in range(20000)]
    publish_week(
        db_conn, stage(db_conn, tmp_path, [write_csv(tmp_path / "old.csv", many[:5000])], target)
    )
    staged = stage(db_conn, tmp_path, [write_csv(tmp_path / "new.csv", many)], target)
    table = f"results.{results_table_name(target.workflow_id)}"
    seen: set[int] = set()
    done = threading.Event()

    def read() -> None:
        with psycopg.connect(db_url, autocommit=True) as reader:
            while not done.is_set():
                seen.add(reader.execute(f"select count(*) from {table}").fetchone()[0])  # type: ignore[index]

    reader_thread = threading.Thread(target=read)
    reader_thread.start()
    try:
        publish_week(db_conn, staged)
    finally:
        done.set()
        reader_thread.join()

    assert seen <= {5000, 20000}
    assert 5000 in seen


def test_a_staged_week_is_published_once(db_conn: Conn, tmp_path: Path) -> None:
    staged = stage(db_conn, tmp_path, [write_csv(tmp_path / "a.csv", ROWS)])
    publish_week(db_conn, staged)

    with pytest.raises(StagingError, match="already published or discarded"):
        publish_week(db_conn, staged)


def test_staging_left_by_a_crashed_run_is_dropped_after_a_day(
    db_conn: Conn, tmp_path: Path
) -> None:
    abandoned = stage(db_conn, tmp_path, [write_csv(tmp_path / "a.csv", ROWS)])
    current = stage(db_conn, tmp_path, [write_csv(tmp_path / "b.csv", ROWS)])
    db_conn.execute(
        f"comment on table results_staging.{abandoned.staging_table_name} "
        "is '2024-01-01T00:00:00+00:00'"
    )
    two_days_ago = time.time() - 2 * 86400
    os.utime(abandoned.parquet_temp_path, (two_days_ago, two_days_ago))

    dropped = drop_abandoned_staging(db_conn, results_root=tmp_path / "results")

    assert dropped == [abandoned.staging_table_name]
    assert not abandoned.parquet_temp_path.exists()
    assert current.parquet_temp_path.exists()
    assert publish_week(db_conn, current).row_count == 5
