"""The views of `dbt_like_views/`: compiled, ordered by what they read, applied in one transaction.

Each `.sql` file of `staging/` and `marts/` is one view named after the file, created in the
schema `analytics`. A file may use these macros, written as in dbt:

- `{{ config(materialized='materialized_view', unique_key=['a', 'b']) }}` makes the mart a
  materialized view (in `analytics_internal`, refreshed concurrently on its unique key); users
  reach it only through the `security_invoker` view `analytics.<name>`, which shows them the
  rows whose `user_id` is theirs and everyone who may read the stored mart all of them.
- `{{ config(materialized='incremental', unique_key=[...], partition_by='p',
  version_column='v') }}` stores the mart as a table in `analytics_internal`, reached by users
  the same way, whose refresh recomputes only the partitions (values of `p`) whose rows changed:
  those where the query's (unique key, `v`) pairs differ from the stored ones, found by reading
  the query's key and version columns alone (the planner leaves the other columns out). The
  query is kept as the view `analytics_internal.<name>__source`; a refresh replaces those
  partitions' rows in one transaction, readers meanwhile seeing the previous ones.
- `{{ results_union() }}` is every workflow's results table, one `union all` branch each, with
  the metadata columns and the metrics of `RESULT_METRICS` (null where a table lacks them).
- `{{ template_results('key') }}` is the results tables of the workflows made from the official
  template `key`, with that template's declared output columns, typed.
- `{{ summary_metrics('weeks.summary_stats') }}` is the same metrics read from a week's
  summary_stats (the `<column>_sum` the ingest computed), so that a mart of weeks reads one row
  a week instead of every result row.
- every `{% macro %}` of a `macros/` file that defines Jinja macros (as dbt's `macros/` does),
  callable from any view; the other `macros/` files are SQL functions, created before the views.

The relations a view reads are found by parsing its compiled SQL (sqlglot): views of this set
order the creation (a cycle or an unknown `analytics.` name is an error naming the file), other
relations must exist. `apply_views` compares each view's checksum (kept in its comment) with
the compiled SQL and recreates, in one transaction, only the changed views and those that read
them; a failing view rolls everything back, leaving the previous set in place.
"""

from __future__ import annotations

import graphlib
import hashlib
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import psycopg
import sqlglot
from psycopg import sql
from psycopg.rows import dict_row
from sqlglot import exp

from recomamp_pipelines.analytics.queries import load
from recomamp_pipelines.results.columns import RESERVED_COLUMNS, map_output_column
from recomamp_pipelines.templates.official import UnknownTemplateError, official_template

VIEWS_DIR = Path(__file__).resolve().parents[2] / "dbt_like_views"
LAYERS = ("staging", "marts")
ANALYTICS_SCHEMA = "analytics"
INTERNAL_SCHEMA = "analytics_internal"
READER_ROLE = "authenticated"
OWNED_ROWS_SUFFIX = "__owned_rows"
SOURCE_SUFFIX = "__source"
MATERIALIZATIONS = ("view", "materialized_view", "incremental")
_CHECKSUM = re.compile(r"recomamp-views sha256=([0-9a-f]{64})")
# One lock for every apply of the set, held to the end of its transaction.
_APPLY_LOCK = 7_324_150_912
# With hashtext of its relation: one refresh of an incremental mart at a time.
_REFRESH_LOCK_CLASS = 7_324


@dataclass(frozen=True)
class ResultMetric:
    """A metric of `{{ results_union() }}`: the columns that give it, each with its scale."""

    name: str
    sources: tuple[tuple[str, float], ...]


# Canonical metrics of every results table, in US dollars where money: the first column of the
# list that a table has (and that is numeric) wins. AMC's raw `total_cost` is in millicents and
# `spend` in microcents; the library's templates divide into `spend_usd` themselves.
RESULT_METRICS: tuple[ResultMetric, ...] = (
    ResultMetric("impressions", (("impressions", 1.0),)),
    ResultMetric("clicks", (("clicks", 1.0),)),
    ResultMetric("spend_usd", (("spend_usd", 1.0), ("spend", 1e-8), ("total_cost", 1e-5))),
    ResultMetric("purchases", (("purchases", 1.0), ("conversions", 1.0))),
    ResultMetric("sales_usd", (("product_sales", 1.0), ("sales", 1.0))),
    ResultMetric("units_sold", (("units_sold", 1.0), ("units", 1.0))),
    ResultMetric(
        "new_to_brand_sales_usd",
        (("new_to_brand_product_sales", 1.0), ("new_to_brand_sales", 1.0)),
    ),
    ResultMetric("new_to_brand_purchases", (("new_to_brand_purchases", 1.0),)),
)
_NUMERIC_TYPES = frozenset({"bigint", "integer", "smallint", "double precision", "real"})
_RESERVED_TYPES = {
    "window_start": "timestamp",
    "window_end": "timestamp",
    "source_kind": "text",
    "source_id": "uuid",
    "user_id": "uuid",
    "week_start_date": "date",
}


class ViewDefinitionError(ValueError):
    """A view file that cannot be compiled or ordered: bad macro, cycle, missing relation."""


class ViewApplyError(RuntimeError):
    """PostgreSQL refused a view; nothing of this apply was kept."""


@dataclass(frozen=True)
class ViewFile:
    """One `.sql` file of the analyst layer."""

    name: str
    layer: str
    path: Path
    text: str

    @property
    def label(self) -> str:
        return f"{self.layer}/{self.path.name}"


@dataclass(frozen=True)
class CompiledView:
    """A view file with its macros expanded and the relations it reads."""

    file: ViewFile
    sql: str
    description: str
    materialization: str  # one of MATERIALIZATIONS
    unique_key: tuple[str, ...]
    reads: frozenset[str]  # other views of the set, by name
    sources: frozenset[str]  # other relations, schema-qualified
    template_key: str | None
    reads_results: bool  # through a macro: the tables of schema results
    source_checksum: str  # of the file and of the Jinja macros it calls

    partition_by: str | None = None
    version_column: str | None = None

    @property
    def name(self) -> str:
        return self.file.name

    @property
    def materialized(self) -> bool:
        """Whether the mart's rows are stored (and refreshed), not computed on each read."""
        return self.materialization != "view"

    @property
    def checksum(self) -> str:
        identity = "\n".join(
            (
                self.materialization,
                ",".join(self.unique_key),
                self.partition_by or "",
                self.version_column or "",
                self.sql,
            )
        )
        return hashlib.sha256(identity.encode("utf-8")).hexdigest()

    @property
    def relation(self) -> str:
        """Where users read the view: `analytics.<name>`."""
        return f"{ANALYTICS_SCHEMA}.{self.name}"


@dataclass
class ApplyReport:
    """What one `apply_views` did."""

    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{len(self.created)} created or replaced, {len(self.unchanged)} unchanged, "
            f"{len(self.dropped)} dropped"
        )


def view_files(directory: Path = VIEWS_DIR) -> list[ViewFile]:
    """Every view file of the layers, sorted; a name used twice is an error naming both files."""
    found: dict[str, ViewFile] = {}
    for layer in LAYERS:
        for path in sorted((directory / layer).glob("*.sql")):
            view = ViewFile(path.stem, layer, path, path.read_text(encoding="utf-8"))
            if view.name in found:
                raise ViewDefinitionError(
                    f"{view.label}: the view name {view.name!r} is already taken by "
                    f"{found[view.name].label}; view names must be unique across layers"
                )
            found[view.name] = view
    if not found:
        raise ViewDefinitionError(f"{directory}: no view file in {' or '.join(LAYERS)}")
    return list(found.values())


def _defines_jinja_macros(path: Path) -> bool:
    return "{% macro" in path.read_text(encoding="utf-8")


def macro_files(directory: Path = VIEWS_DIR) -> list[Path]:
    """The SQL functions of `macros/` that views call, created before any view."""
    return [p for p in sorted((directory / "macros").glob("*.sql")) if not _defines_jinja_macros(p)]


def jinja_macro_files(directory: Path = VIEWS_DIR) -> list[Path]:
    """The files of `macros/` that define Jinja macros, expanded when the views compile."""
    return [p for p in sorted((directory / "macros").glob("*.sql")) if _defines_jinja_macros(p)]


class _Compiler:
    """Expands the macros of one file with what the database holds now."""

    def __init__(
        self,
        conn: psycopg.Connection | None,
        results: Mapping[str, Sequence[tuple[str, str]]],
    ):
        self.conn = conn
        self.results = results
        self.config: dict[str, Any] = {}
        self.template_key: str | None = None
        self.reads_results = False

    def reset(self) -> None:
        self.config = {}
        self.template_key = None
        self.reads_results = False

    def config_macro(self, **options: Any) -> str:
        self.config.update(options)
        return ""

    def results_union(self) -> str:
        self.reads_results = True
        branches = [self._results_branch(table, columns) for table, columns in self.results.items()]
        return self._union(branches, self._empty_results())

    def summary_metrics(self, stats: str) -> str:
        """The metrics of RESULT_METRICS read from a week's summary_stats (`<column>_sum`)."""
        lines = []
        for metric in RESULT_METRICS:
            candidates = [
                sql.SQL(
                    "case when ({stats} ->> {count})::bigint > 0 "
                    "then ({stats} ->> {total})::double precision * {scale} end"
                ).format(
                    stats=sql.SQL(stats),  # the file's own expression
                    count=sql.Literal(f"{column}_count"),
                    total=sql.Literal(f"{column}_sum"),
                    scale=sql.Literal(scale),
                )
                for column, scale in metric.sources
            ]
            lines.append(
                sql.SQL("coalesce({}) as {}").format(
                    sql.SQL(", ").join(candidates), sql.Identifier(metric.name)
                )
            )
        return sql.SQL(",\n        ").join(lines).as_string(self.conn)

    def template_results(self, template_key: str) -> str:
        if self.template_key is not None and self.template_key != template_key:
            raise ViewDefinitionError(
                f"template_results() is called for {self.template_key!r} and {template_key!r}; "
                "a family mart reads one template"
            )
        self.template_key = template_key
        self.reads_results = True
        try:
            template = official_template(template_key)
        except UnknownTemplateError as error:
            raise ViewDefinitionError(str(error)) from None
        declared = [
            (column.name, map_output_column(column.name, column.type, None).postgres_type)
            for column in template.output_columns
        ]
        workflow_ids = []
        if self.conn is not None:
            with self.conn.cursor(row_factory=dict_row) as cur:
                cur.execute(load("template_workflows"), {"template_key": template_key})
                workflow_ids = [row["workflow_id"] for row in cur.fetchall()]
        branches = []
        for workflow_id in workflow_ids:
            table = f"workflow_{workflow_id.hex}"
            if table in self.results:
                branches.append(self._template_branch(table, self.results[table], declared))
        empty = self._select(
            [*self._reserved_nulls(), *[(name, self._null(kind)) for name, kind in declared]]
        )
        return self._union(branches, empty)

    def _union(self, branches: list[sql.Composable], empty: sql.Composable) -> str:
        if not branches:
            return sql.SQL("{} where false").format(empty).as_string(self.conn)
        return sql.SQL("\n    union all\n    ").join(branches).as_string(self.conn)

    @staticmethod
    def _null(kind: str) -> sql.Composable:
        return sql.SQL("null::{}").format(sql.SQL(kind))

    def _reserved_nulls(self) -> list[tuple[str, sql.Composable]]:
        return [
            ("workflow_id", self._null("uuid")),
            *[(name, self._null(_RESERVED_TYPES[name])) for name in RESERVED_COLUMNS],
        ]

    def _empty_results(self) -> sql.Composable:
        metrics = [(metric.name, self._null("double precision")) for metric in RESULT_METRICS]
        return self._select([*self._reserved_nulls(), *metrics])

    @staticmethod
    def _select(columns: Sequence[tuple[str, sql.Composable]]) -> sql.Composable:
        return sql.SQL("select {}").format(
            sql.SQL(", ").join(
                sql.SQL("{} as {}").format(value, sql.Identifier(name)) for name, value in columns
            )
        )

    def _reserved(self, table: str) -> list[tuple[str, sql.Composable]]:
        workflow_id = uuid.UUID(table.removeprefix("workflow_"))
        return [
            ("workflow_id", sql.SQL("{}::uuid").format(sql.Literal(str(workflow_id)))),
            *[(name, sql.SQL("t.{}").format(sql.Identifier(name))) for name in RESERVED_COLUMNS],
        ]

    def _from(self, table: str) -> sql.Composable:
        return sql.SQL("from {} as t").format(sql.Identifier("results", table))

    def _results_branch(self, table: str, columns: Sequence[tuple[str, str]]) -> sql.Composable:
        numeric = {name for name, kind in columns if kind in _NUMERIC_TYPES}
        selected = self._reserved(table)
        for metric in RESULT_METRICS:
            value: sql.Composable = self._null("double precision")
            for column, scale in metric.sources:
                if column in numeric:
                    value = sql.SQL("t.{}::double precision").format(sql.Identifier(column))
                    if scale != 1.0:
                        value = sql.SQL("{} * {}").format(value, sql.Literal(scale))
                    break
            selected.append((metric.name, value))
        return sql.SQL("{} {}").format(self._select(selected), self._from(table))

    def _template_branch(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        declared: Sequence[tuple[str, str]],
    ) -> sql.Composable:
        present = dict(columns)
        selected = self._reserved(table)
        for name, kind in declared:
            value: sql.Composable
            if name in present:
                value = sql.SQL("t.{}::{}").format(sql.Identifier(name), sql.SQL(kind))
            else:
                value = self._null(kind)
            selected.append((name, value))
        return sql.SQL("{} {}").format(self._select(selected), self._from(table))


def _results_tables(conn: psycopg.Connection) -> dict[str, list[tuple[str, str]]]:
    tables: dict[str, list[tuple[str, str]]] = {}
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(load("results_tables"))
        for row in cur.fetchall():
            tables.setdefault(row["table_name"], []).append(
                (row["column_name"], row["column_type"])
            )
    return tables


def _description(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line.removeprefix("--").strip())
    return " ".join(line for line in lines if line)


def relations_read(view_sql: str, label: str) -> set[tuple[str, str]]:
    """The (schema, name) of every table or view the SQL reads, leaving out its own CTEs."""
    try:
        tree = sqlglot.parse_one(view_sql, read="postgres")
    except sqlglot.errors.ParseError as error:
        raise ViewDefinitionError(f"{label}: the SQL does not parse: {error}") from None
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    found: set[tuple[str, str]] = set()
    for table in tree.find_all(exp.Table):
        if not table.name:
            continue  # a function in FROM
        if not table.db:
            if table.name in ctes:
                continue
            raise ViewDefinitionError(
                f"{label}: reads {table.name!r}, which is neither a CTE nor schema-qualified; "
                f"write {ANALYTICS_SCHEMA}.{table.name} for a view, public.{table.name} for a table"
            )
        found.add((table.db, table.name))
    return found


def _load_jinja_macros(environment: jinja2.Environment, directory: Path) -> dict[str, str]:
    """Make every macro of the `macros/` Jinja files a global of `environment`; the text of
    the file defining each macro, by macro name."""
    defined: dict[str, str] = {}
    for path in jinja_macro_files(directory):
        label = f"macros/{path.name}"
        try:
            module = environment.from_string(path.read_text(encoding="utf-8")).module
        except jinja2.TemplateError as error:
            raise ViewDefinitionError(f"{label}: macro error: {error}") from None
        for name, value in vars(module).items():
            if not isinstance(value, jinja2.runtime.Macro):
                continue
            if name in environment.globals:
                raise ViewDefinitionError(
                    f"{label}: the macro {name!r} is already defined; macro names must be unique"
                )
            environment.globals[name] = value
            defined[name] = path.read_text(encoding="utf-8")
    return defined


def _source_checksum(view: ViewFile, macros: Mapping[str, str]) -> str:
    called = [text for name, text in sorted(macros.items()) if f"{name}(" in view.text]
    return hashlib.sha256("\0".join([view.text, *called]).encode("utf-8")).hexdigest()


def compile_views(
    conn: psycopg.Connection | None,
    files: Sequence[ViewFile] | None = None,
    directory: Path = VIEWS_DIR,
) -> list[CompiledView]:
    """Expand every file's macros and find what it reads; errors name the file.

    Without a connection the macros expand as for a database without results tables: enough
    to know what each view reads (the Dagster definitions are built that way).
    """
    files = view_files() if files is None else files
    names = {view.name for view in files}
    compiler = _Compiler(conn, _results_tables(conn) if conn is not None else {})
    # Renders SQL, not HTML: the macros return composed, quoted SQL.
    environment = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701
        keep_trailing_newline=True,
    )
    environment.globals.update(
        config=compiler.config_macro,
        results_union=compiler.results_union,
        summary_metrics=compiler.summary_metrics,
        template_results=compiler.template_results,
    )
    macros = _load_jinja_macros(environment, directory)
    compiled = []
    for view in files:
        compiler.reset()
        try:
            rendered = environment.from_string(view.text).render()
        except ViewDefinitionError as error:
            raise ViewDefinitionError(f"{view.label}: {error}") from None
        except jinja2.TemplateError as error:
            raise ViewDefinitionError(f"{view.label}: macro error: {error}") from None
        rendered = rendered.strip().rstrip(";")
        reads, sources = set(), set()
        for schema, name in relations_read(rendered, view.label):
            if schema == ANALYTICS_SCHEMA:
                if name not in names:
                    raise ViewDefinitionError(
                        f"{view.label}: reads {schema}.{name}, which no file of "
                        f"{' or '.join(LAYERS)} defines"
                    )
                if name == view.name:
                    raise ViewDefinitionError(f"{view.label}: reads itself ({schema}.{name})")
                reads.add(name)
            else:
                sources.add(f"{schema}.{name}")
        compiled.append(
            CompiledView(
                file=view,
                sql=rendered,
                description=_description(view.text),
                materialization=_materialization(compiler.config, view),
                unique_key=tuple(compiler.config.get("unique_key", ())),
                reads=frozenset(reads),
                sources=frozenset(sources),
                template_key=compiler.template_key,
                reads_results=compiler.reads_results,
                source_checksum=_source_checksum(view, macros),
                partition_by=compiler.config.get("partition_by"),
                version_column=compiler.config.get("version_column"),
            )
        )
    return compiled


def _materialization(config: Mapping[str, Any], view: ViewFile) -> str:
    kind = config.get("materialized", "view")
    if kind not in MATERIALIZATIONS:
        expected = ", ".join(repr(name) for name in MATERIALIZATIONS)
        raise ViewDefinitionError(
            f"{view.label}: materialized={kind!r}; expected one of {expected}"
        )
    if kind != "view" and not config.get("unique_key"):
        raise ViewDefinitionError(
            f"{view.label}: a {kind} mart needs unique_key=[...] to be refreshed row by row"
        )
    if kind == "incremental":
        for option in ("partition_by", "version_column"):
            if not isinstance(config.get(option), str):
                raise ViewDefinitionError(
                    f"{view.label}: an incremental mart needs {option}='<column>' "
                    f"(got {config.get(option)!r})"
                )
    return str(kind)


def creation_order(views: Sequence[CompiledView]) -> list[CompiledView]:
    """The views, each after every view it reads; a cycle is an error naming its files."""
    by_name = {view.name: view for view in views}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter(
        {view.name: sorted(view.reads) for view in views}
    )
    try:
        order = list(sorter.static_order())
    except graphlib.CycleError as error:
        cycle = error.args[1]
        files = " -> ".join(by_name[name].file.label for name in cycle)
        raise ViewDefinitionError(f"the views read each other in a cycle: {files}") from None
    return [by_name[name] for name in order]


def downstream(views: Sequence[CompiledView], names: Iterable[str]) -> set[str]:
    """The named views and every view that reads them, directly or not."""
    readers: dict[str, set[str]] = {}
    for view in views:
        for read in view.reads:
            readers.setdefault(read, set()).add(view.name)
    found: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        pending.extend(readers.get(name, ()))
    return found


def _check_sources_exist(conn: psycopg.Connection, views: Sequence[CompiledView]) -> None:
    with conn.cursor(row_factory=dict_row) as cur:
        for view in views:
            for source in sorted(view.sources):
                cur.execute(load("relation_exists"), {"relation_name": source})
                row = cur.fetchone()
                if row is None or not row["relation_exists"]:
                    raise ViewDefinitionError(
                        f"{view.file.label}: reads {source}, which does not exist in the database"
                    )


def _managed_checksums(conn: psycopg.Connection) -> dict[str, str]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(load("managed_views"), {"schema_name": ANALYTICS_SCHEMA})
        found = {}
        for row in cur.fetchall():
            match = _CHECKSUM.search(row["view_comment"] or "")
            if match:
                found[row["view_name"]] = match.group(1)
    return found


def _objects_of(name: str) -> list[tuple[str, str]]:
    """(schema, name) of everything a view name stands for, readers first."""
    return [
        (ANALYTICS_SCHEMA, name),
        (INTERNAL_SCHEMA, name + OWNED_ROWS_SUFFIX),
        (INTERNAL_SCHEMA, name),
        (INTERNAL_SCHEMA, name + SOURCE_SUFFIX),
    ]


_DROP_KINDS = {"v": "view", "m": "materialized view", "r": "table"}


def _drop(conn: psycopg.Connection, names: set[str]) -> None:
    objects = [obj for name in sorted(names) for obj in _objects_of(name)]
    with conn.cursor(row_factory=dict_row) as cur:
        relation_ids = []
        found = []
        for schema, name in objects:
            cur.execute(
                "select c.oid as relation_id, c.relkind as relation_kind from pg_class as c "
                "where c.oid = to_regclass(%s)",
                (f"{schema}.{name}",),
            )
            row = cur.fetchone()
            if row is not None:
                relation_ids.append(row["relation_id"])
                found.append((_DROP_KINDS[row["relation_kind"]], schema, name))
        if not relation_ids:
            return
        cur.execute(load("outside_dependents"), {"relation_ids": relation_ids})
        outside = [row["relation_name"] for row in cur.fetchall()]
        if outside:
            raise ViewApplyError(
                f"cannot replace {', '.join(sorted(names))}: {', '.join(outside)} read them "
                f"and are not defined in {VIEWS_DIR.name}/; drop them or add them as view files"
            )
        for kind, schema, name in found:
            cur.execute(
                sql.SQL("drop {} if exists {} cascade").format(
                    sql.SQL(kind), sql.Identifier(schema, name)
                )
            )


def _comment(view: CompiledView) -> str:
    return f"{view.description}\n\nrecomamp-views sha256={view.checksum}".strip()


def _create(conn: psycopg.Connection, view: CompiledView) -> None:
    public_view = sql.Identifier(ANALYTICS_SCHEMA, view.name)
    body = sql.SQL(view.sql)  # the project's own file, compiled
    with conn.cursor() as cur:
        if not view.materialized:
            cur.execute(
                sql.SQL("create view {} with (security_invoker = true) as\n{}").format(
                    public_view, body
                )
            )
        else:
            stored = sql.Identifier(INTERNAL_SCHEMA, view.name)
            owned_rows = sql.Identifier(INTERNAL_SCHEMA, view.name + OWNED_ROWS_SUFFIX)
            if view.materialization == "incremental":
                source = sql.Identifier(INTERNAL_SCHEMA, view.name + SOURCE_SUFFIX)
                cur.execute(sql.SQL("create view {} as\n{}").format(source, body))
                cur.execute(sql.SQL("create table {} as select * from {}").format(stored, source))
            else:
                cur.execute(
                    sql.SQL("create materialized view {} as\n{}\nwith data").format(stored, body)
                )
            cur.execute(
                load("has_user_id_column"), {"relation_name": f"{INTERNAL_SCHEMA}.{view.name}"}
            )
            if cur.fetchone() is None:
                raise ViewDefinitionError(
                    f"{view.file.label}: a {view.materialization} mart needs a user_id column, "
                    "the owner that decides who sees each row"
                )
            if view.materialization == "incremental":
                _check_incremental_columns(conn, view)
            cur.execute(
                sql.SQL("create unique index {} on {} ({})").format(
                    sql.Identifier(f"{view.name}_unique_key"),
                    stored,
                    sql.SQL(", ").join(sql.Identifier(column) for column in view.unique_key),
                )
            )
            if view.materialization == "incremental":
                cur.execute(sql.SQL("analyze {}").format(stored))
            # A plain view reads the stored mart with its owner's rights; functions in it
            # run as the caller, so current_user is whoever queries. security_barrier keeps a
            # caller's own predicates from seeing rows before the owner filter.
            cur.execute(
                sql.SQL(
                    "create view {} with (security_barrier = true) as\n"
                    "select * from {} as m\n"
                    "where m.user_id = (select auth.uid())\n"
                    "    or has_table_privilege({}, 'select')"
                ).format(owned_rows, stored, sql.Literal(f"{INTERNAL_SCHEMA}.{view.name}"))
            )
            cur.execute(
                sql.SQL("grant select on {} to {}").format(owned_rows, sql.Identifier(READER_ROLE))
            )
            cur.execute(
                sql.SQL("create view {} with (security_invoker = true) as select * from {}").format(
                    public_view, owned_rows
                )
            )
        cur.execute(
            sql.SQL("grant select on {} to {}").format(public_view, sql.Identifier(READER_ROLE))
        )
        cur.execute(
            sql.SQL("comment on view {} is {}").format(public_view, sql.Literal(_comment(view)))
        )


def _check_incremental_columns(conn: psycopg.Connection, view: CompiledView) -> None:
    columns = {name for name, _ in _relation_columns(conn, f"{INTERNAL_SCHEMA}.{view.name}")}
    for option, column in (
        ("partition_by", view.partition_by),
        ("version_column", view.version_column),
    ):
        if column not in columns:
            raise ViewDefinitionError(
                f"{view.file.label}: {option}={column!r} is not a column of the mart"
            )


def _prepare_schemas(conn: psycopg.Connection, directory: Path) -> None:
    reader = sql.Identifier(READER_ROLE)
    with conn.cursor() as cur:
        for schema in (ANALYTICS_SCHEMA, INTERNAL_SCHEMA):
            cur.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
            cur.execute(
                sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(schema), reader)
            )
        for path in macro_files(directory):
            cur.execute(path.read_text(encoding="utf-8"))


def apply_views(conn: psycopg.Connection[Any], directory: Path = VIEWS_DIR) -> ApplyReport:
    """Create or replace every view of `directory` in one transaction on `conn`."""
    started = time.perf_counter()
    files = view_files(directory)
    report = ApplyReport()
    try:
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(%s)", (_APPLY_LOCK,))
            _prepare_schemas(conn, directory)
            views = creation_order(compile_views(conn, files, directory))
            _check_sources_exist(conn, views)
            existing = _managed_checksums(conn)
            changed = {view.name for view in views if existing.get(view.name) != view.checksum}
            to_create = downstream(views, changed)
            stale = set(existing) - {view.name for view in views}
            _drop(conn, to_create | stale)
            for view in views:
                if view.name not in to_create:
                    report.unchanged.append(view.name)
                    continue
                try:
                    with conn.transaction():
                        _create(conn, view)
                except psycopg.Error as error:
                    raise ViewApplyError(
                        f"{view.file.label}: PostgreSQL refused the view: "
                        f"{_describe(error)}; the previous views are kept"
                    ) from None
                report.created.append(view.name)
            report.dropped = sorted(stale)
    except psycopg.Error as error:
        raise ViewApplyError(f"views apply failed: {_describe(error)}") from None
    report.seconds = time.perf_counter() - started
    return report


def _describe(error: psycopg.Error) -> str:
    diagnostic = error.diag
    text = diagnostic.message_primary or str(error).strip()
    if diagnostic.message_detail:
        text += f" ({diagnostic.message_detail})"
    return text


def static_views(directory: Path = VIEWS_DIR) -> list[CompiledView]:
    """The views in creation order, compiled without a database, once per content of the files.

    Which views are materialized, what they read and their order do not depend on the results
    tables; parsing is the costly part, so a refresh reuses it while the files stay the same.
    """
    files = view_files(directory)
    macros = [
        f"macros/{path.name}\0{path.read_text(encoding='utf-8')}"
        for path in jinja_macro_files(directory)
    ]
    fingerprint = hashlib.sha256(
        "\0".join([*(f"{view.label}\0{view.text}" for view in files), *macros]).encode("utf-8")
    ).hexdigest()
    return list(_static_views(directory, fingerprint))


@cache
def _static_views(directory: Path, fingerprint: str) -> tuple[CompiledView, ...]:
    return tuple(creation_order(compile_views(None, view_files(directory), directory)))


@dataclass(frozen=True)
class RefreshedMart:
    """A stored mart refreshed, and how long it took."""

    name: str
    seconds: float
    # An incremental mart: how many of its partitions were recomputed.
    partitions: int | None = None


def refresh_marts(
    conn: psycopg.Connection,
    names: Iterable[str] | None = None,
    directory: Path = VIEWS_DIR,
) -> list[RefreshedMart]:
    """Refresh the stored marts (all, or those named) without blocking their readers.

    A materialized view is refreshed concurrently; an incremental mart recomputes the
    partitions whose rows changed. `conn` must be in autocommit mode: each refresh commits on
    its own, so a mart's readers see its new rows as soon as it is done.
    """
    views = static_views(directory)
    wanted = None if names is None else set(names)
    refreshed = []
    for view in views:
        if not view.materialized or (wanted is not None and view.name not in wanted):
            continue
        started = time.perf_counter()
        partitions = None
        if view.materialization == "incremental":
            partitions = _refresh_incremental(conn, view)
        else:
            conn.execute(
                sql.SQL("refresh materialized view concurrently {}").format(
                    sql.Identifier(INTERNAL_SCHEMA, view.name)
                )
            )
        refreshed.append(RefreshedMart(view.name, time.perf_counter() - started, partitions))
    return refreshed


def _refresh_incremental(conn: psycopg.Connection, view: CompiledView) -> int:
    """Replace the rows of the partitions whose (key, version) pairs changed; how many."""
    assert view.partition_by is not None and view.version_column is not None
    stored = sql.Identifier(INTERNAL_SCHEMA, view.name)
    source = sql.Identifier(INTERNAL_SCHEMA, view.name + SOURCE_SUFFIX)
    partition = sql.Identifier(view.partition_by)
    version = sql.Identifier(view.version_column)
    keys = [sql.Identifier(column) for column in view.unique_key]
    # Only the key, partition and version columns are read from the query: the planner leaves
    # out every other column, which is where a mart's cost lies.
    changed_partitions = sql.SQL(
        "with source_versions as (select {columns} from {source}),\n"
        "stored_versions as (select {columns} from {stored}),\n"
        "changed as (\n"
        "    select s.{partition} as source_partition, t.{partition} as stored_partition\n"
        "    from source_versions as s full join stored_versions as t on {key_match}\n"
        "    where s.{first_key} is null or t.{first_key} is null\n"
        "        or s.{version} is distinct from t.{version}\n"
        "        or s.{partition} is distinct from t.{partition}\n"
        ")\n"
        "select source_partition as partition_value from changed\n"
        "where source_partition is not null\n"
        "union\n"
        "select stored_partition from changed where stored_partition is not null"
    ).format(
        columns=sql.SQL(", ").join(
            sql.Identifier(column)
            for column in dict.fromkeys([*view.unique_key, view.partition_by, view.version_column])
        ),
        source=source,
        stored=stored,
        partition=partition,
        version=version,
        first_key=keys[0],
        key_match=sql.SQL(" and ").join(sql.SQL("s.{0} = t.{0}").format(key) for key in keys),
    )
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "select pg_advisory_xact_lock(%s, hashtext(%s))",
            (_REFRESH_LOCK_CLASS, f"{INTERNAL_SCHEMA}.{view.name}"),
        )
        cur.execute(changed_partitions)
        partitions = [row["partition_value"] for row in cur.fetchall()]
        if partitions:
            cur.execute(
                sql.SQL("delete from {} where {} = any(%s)").format(stored, partition),
                (partitions,),
            )
            cur.execute(
                sql.SQL("insert into {} select * from {} where {} = any(%s)").format(
                    stored, source, partition
                ),
                (partitions,),
            )
    return len(partitions)


def view_columns(conn: psycopg.Connection, name: str) -> list[tuple[str, str]]:
    """(column, type) of the view `analytics.<name>`, in order."""
    return _relation_columns(conn, f"{ANALYTICS_SCHEMA}.{name}")


def _relation_columns(conn: psycopg.Connection, relation_name: str) -> list[tuple[str, str]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(load("view_columns"), {"relation_name": relation_name})
        return [(row["column_name"], row["column_type"]) for row in cur.fetchall()]


def apply_and_refresh(
    conn: psycopg.Connection, directory: Path = VIEWS_DIR
) -> tuple[ApplyReport, list[RefreshedMart]]:
    """Apply the views, then refresh the stored marts this apply did not just create."""
    report = apply_views(conn, directory)
    materialized = [view.name for view in static_views(directory) if view.materialized]
    stale = [name for name in materialized if name not in report.created]
    return report, refresh_marts(conn, stale, directory) if stale else []
