"""One family mart per official template: its source keys, then the template's columns."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import psycopg

from recomamp_pipelines.analytics.views import VIEWS_DIR, compile_views, static_views, view_files
from recomamp_pipelines.templates.official import official_templates
from tests.analytics.fixture import AnalystFixture

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
