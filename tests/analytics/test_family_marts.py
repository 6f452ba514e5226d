"""One family mart per official template: its source keys, then the template's columns."""

from __future__ import annotations

import shutil
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from recomamp_pipelines.analytics.views import (
    VIEWS_DIR,
    apply_views,
    compile_views,
    static_views,
    view_files,
)
from recomamp_pipelines.templates.official import official_templates
from tests.analytics.fixture import (
    AnalystFixture,
    add_collection,
    add_workflow,
    create_results,
    insert_results,
)

Conn = psycopg.Connection[Any]
SOURCE_KEYS = [
    "source_kind",
    "collection_id",
    "collection_name",
    "schedule_id",
    "schedule_name",
    "user_id",
    "week_start_date",
    "window_start",
    "window_end",
]


def family_marts() -> dict[str, list[str]]:
    """Template key -> the marts that read its results."""
    found: dict[str, list[str]] = {}
    for view in static_views():
        if view.template_key is not None:
            found.setdefault(view.template_key, []).append(view.name)
    return found


def test_every_official_template_has_one_family_mart() -> None:
    marts = family_marts()
    assert {t.key: len(marts.get(t.key, [])) for t in official_templates()} == {
        t.key: 1 for t in official_templates()
    }
    # the family marts, and no other mart, read a template's results
    names = {name for names in marts.values() for name in names}
    assert all("weekly" in name for name in names)
    assert names <= {view.name for view in view_files() if view.layer == "marts"}


def test_family_marts_show_the_source_keys_then_the_template_columns(
    db_conn: Conn, analyst: AnalystFixture
) -> None:
    marts = family_marts()
    for template in official_templates():
        (mart,) = marts[template.key]
        columns = [
            row[0]
            for row in db_conn.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'analytics' and table_name = %s order by ordinal_position",
                (mart,),
            )
        ]
        assert columns == [*SOURCE_KEYS, *(c.name for c in template.output_columns)], mart


def test_a_changed_macro_changes_the_code_version_of_the_marts_that_call_it(
    tmp_path: Path,
) -> None:
    views = tmp_path / "dbt_like_views"
    shutil.copytree(VIEWS_DIR, views)
    before = {view.name: view.source_checksum for view in compile_views(None, None, views)}
    macro = views / "macros" / "template_families.sql"
    macro.write_text(macro.read_text().replace("results.*,", "results.*, 1 as changed,"))
    after = compile_views(None, view_files(views), views)
    changed = {view.name for view in after if view.source_checksum != before[view.name]}
    assert changed == {name for names in family_marts().values() for name in names}


def _value(kind: str, row: int, column: int) -> Any:
    """A value of AMC type `kind`, different in every row and column."""
    if kind == "STRING":
        return f"value {row}.{column}"
    if kind in ("LONG", "INTEGER"):
        return 10 * row + column
    if kind == "DECIMAL":
        return Decimal(f"{row}.{column:02d}")
    return row + column / 4


def test_every_family_mart_returns_its_templates_rows_as_loaded(
    db_conn: Conn, analyst: AnalystFixture
) -> None:
    """Rows written by hand into each template's results table come out of its family mart,
    keyed by their collection and week, with every value as written."""
    owner = analyst.a
    week = date(2024, 1, 8)
    written: dict[str, tuple[uuid.UUID, list[tuple[Any, ...]]]] = {}
    for template in official_templates():
        columns = template.output_columns_json()
        workflow_id = add_workflow(db_conn, owner, f"every mart: {template.key}", template.key)
        collection_id = add_collection(db_conn, owner, f"every mart: {template.key}", workflow_id)
        create_results(db_conn, workflow_id, columns)
        rows = [tuple(_value(c["type"], row, n) for n, c in enumerate(columns)) for row in (1, 2)]
        insert_results(
            db_conn, workflow_id, columns, owner, "collection", collection_id, week, rows
        )
        written[template.key] = (collection_id, rows)
    apply_views(db_conn)

    marts = family_marts()
    for template in official_templates():
        (mart,) = marts[template.key]
        collection_id, rows = written[template.key]
        names = [c.name for c in template.output_columns]
        query = sql.SQL(
            "select collection_name, week_start_date, {} from {} where collection_id = %s "
            "order by 3"
        ).format(sql.SQL(", ").join(map(sql.Identifier, names)), sql.Identifier("analytics", mart))
        found = db_conn.execute(query, (collection_id,)).fetchall()
        # The marts give AMC's DECIMAL sales as double precision, like every other amount.
        expected = [tuple(float(v) if isinstance(v, Decimal) else v for v in row) for row in rows]
        assert found == [(f"every mart: {template.key}", week, *row) for row in expected], mart
