"""The data tests of `dbt_like_views/tests/`: queries that return the rows breaking a rule.

As in dbt, a test passes when its query returns no row. `tests/<view>__<rule>.sql` tests one
view; `tests/generic/<rule>.sql` runs for every template family mart, with `{{ this }}` the
mart's relation and `%(template_key)s` its template's key. A first line `-- severity: warn`
makes a failure a warning; otherwise it is an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from recomamp_pipelines.analytics.views import (
    ANALYTICS_SCHEMA,
    VIEWS_DIR,
    CompiledView,
    ViewDefinitionError,
)

SAMPLE_ROWS = 5


@dataclass(frozen=True)
class DataTest:
    """One rule about one view."""

    view: str
    rule: str
    description: str
    is_warning: bool
    sql: str
    params: dict[str, Any] | None

    @property
    def name(self) -> str:
        return f"{self.view}__{self.rule}"


@dataclass(frozen=True)
class DataTestResult:
    """How many rows break the rule, and the first few of them."""

    test: DataTest
    failing_rows: int
    sample: list[dict[str, Any]]

    @property
    def passed(self) -> bool:
        return self.failing_rows == 0


def _header(text: str) -> tuple[str, bool]:
    lines = []
    is_warning = False
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        content = line.removeprefix("--").strip()
        if content.lower() == "severity: warn":
            is_warning = True
        elif content:
            lines.append(content)
    return " ".join(lines), is_warning


def data_tests(views: Sequence[CompiledView], directory: Path = VIEWS_DIR) -> list[DataTest]:
    """Every data test of `directory/tests`, for the views given; a test of no view is an error."""
    by_name = {view.name: view for view in views}
    found = []
    for path in sorted((directory / "tests").glob("*.sql")):
        view_name, separator, rule = path.stem.partition("__")
        if not separator or view_name not in by_name:
            raise ViewDefinitionError(
                f"tests/{path.name}: expected <view>__<rule>.sql naming one of the views"
            )
        text = path.read_text(encoding="utf-8")
        description, is_warning = _header(text)
        found.append(DataTest(view_name, rule, description, is_warning, text, None))
    environment = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - renders SQL, not HTML
    )
    for path in sorted((directory / "tests" / "generic").glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        description, is_warning = _header(text)
        for view in views:
            if view.template_key is None:
                continue
            this = sql.Identifier(ANALYTICS_SCHEMA, view.name).as_string(None)
            found.append(
                DataTest(
                    view.name,
                    path.stem,
                    description,
                    is_warning,
                    environment.from_string(text).render(this=this),
                    {"template_key": view.template_key},
                )
            )
    return found


def run_data_test(conn: psycopg.Connection[Any], test: DataTest) -> DataTestResult:
    """Run one test as the connection's role (the pipeline's sees every row)."""
    body = sql.SQL(test.sql.strip().rstrip(";"))  # the project's own file
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            sql.SQL("select count(*) as failing_rows from ({}) as failing").format(body),
            test.params,
        )
        row = cur.fetchone()
        failing = int(row["failing_rows"]) if row else 0
        sample: list[dict[str, Any]] = []
        if failing:
            cur.execute(
                sql.SQL("select * from ({}) as failing limit {}").format(
                    body, sql.Literal(SAMPLE_ROWS)
                ),
                test.params,
            )
            sample = cur.fetchall()
    return DataTestResult(test, failing, sample)
