"""AMC SQL, locally: check like AMC, translate to DuckDB, run, apply the privacy rules.

The checks are the shared AMC SQL front end's (`recomamp_pipelines.amc_sql`), the same the
pipeline's template validator makes. On a checked query the compiler substitutes
`CUSTOM_PARAMETER('name')` and `BUILT_IN_PARAMETER('TIME_WINDOW_START')`, rewrites the AMC
functions DuckDB spells differently (`COLLECT`, `MEDIAN`, `PERCENTILE`, `CARDINALITY`, `'today'`
and `'now'` casts, `NAMED_ROW`, `TO_VARBINARY` / `FROM_VARBINARY`) and writes DuckDB SQL; AMC
functions DuckDB lacks (`SECONDS_BETWEEN`, `ARRAY_UNION`, `HASH64`, `STR_TO_MAP`,
`JSON_SERIALIZE`, ...) are DuckDB macros.

The aggregation threshold is computed, not guessed: every query scope is given the set of users
behind each of its rows (the `user_id` column where one flows through, a hidden list column
where rows were aggregated), and the outermost select counts the distinct users of each output
row alongside. The threshold is that of the most restrictive aggregation-threshold class among
the columns the output shows (NONE 1 user, LOW 2, MEDIUM and HIGH the configured
`aggregation_threshold`, AMC's 100). Rows below it are dropped, or, when the workflow names a
`filteredMetricsDiscriminatorColumn` (or asks for `privacyFilteringBehavior` REMOVE_VALUES),
kept with their metric columns nulled and that column TRUE.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp
from sqlglot.optimizer.scope import Scope, ScopeType, build_scope

from recomamp_pipelines.amc_sql.catalogue import TABLES, Table, duckdb_schema
from recomamp_pipelines.amc_sql.frontend import (
    AmcSqlError,
    Position,
    TimeWindowExtension,
    check_query,
    compile_error,
    contains_aggregate,
    is_grouped,
    node_position,
    output_selects,
)
from recomamp_pipelines.simulator.data import (
    DataWindow,
    Warehouse,
    load_sql,
    sql_statements,
)

__all__ = [
    "AmcSqlCompiler",
    "AmcSqlError",
    "CompiledQuery",
    "ParameterSpec",
    "Position",
    "PrivacyRules",
    "QueryResult",
    "QueryRunner",
    "QueryRuntimeError",
]

#: TO_VARBINARY and FROM_VARBINARY per encoding: DuckDB's function for each.
VARBINARY_FUNCTIONS = {
    ("TO_VARBINARY", "hex"): "unhex",
    ("TO_VARBINARY", "base64"): "from_base64",
    ("TO_VARBINARY", "utf-8"): "encode",
    ("FROM_VARBINARY", "hex"): "hex",
    ("FROM_VARBINARY", "base64"): "to_base64",
    ("FROM_VARBINARY", "utf-8"): "decode",
}
#: The distinct users a row needs when its most restrictive output column is of this class;
#: MEDIUM and HIGH take the configured `aggregation_threshold` (AMC's 100).
CLASS_THRESHOLDS = {"NONE": 1, "LOW": 2}
#: Aggregation-threshold classes from the least to the most restrictive.
CLASS_ORDER = ("NONE", "LOW", "MEDIUM", "HIGH")
USERS_COLUMN = "__sim_users"
USER_COUNT_COLUMN = "__sim_user_count"
#: DuckDB types -> AMC output column data types.
AMC_TYPES = {
    "VARCHAR": "STRING",
    "BIGINT": "LONG",
    "HUGEINT": "LONG",
    "UBIGINT": "LONG",
    "INTEGER": "INTEGER",
    "SMALLINT": "SHORT",
    "TINYINT": "BYTE",
    "DOUBLE": "DOUBLE",
    "FLOAT": "FLOAT",
    "BOOLEAN": "BOOLEAN",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
    "INTERVAL": "CALENDAR_INTERVAL",
}


class QueryRuntimeError(RuntimeError):
    """A query that compiled but failed while running (the execution FAILS)."""


@dataclass(frozen=True)
class ParameterSpec:
    """One entry of a workflow's `inputParameters`."""

    name: str
    data_type: str
    element_type: str | None
    default: Any

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> ParameterSpec:
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise AmcSqlError(f"inputParameters entry {raw!r}: a name is required")
        data_type = raw.get("dataType", "STRING")
        element = None
        if isinstance(data_type, dict):
            element = data_type.get("elementDataType")
            data_type = data_type.get("type", "STRING")
        return cls(
            name, str(data_type).upper(), element and str(element).upper(), raw.get("defaultValue")
        )


@dataclass(frozen=True)
class OutputColumn:
    name: str
    data_type: str
    column_type: str

    def as_api(self) -> dict[str, str]:
        return {"name": self.name, "dataType": self.data_type, "columnType": self.column_type}


@dataclass(frozen=True)
class CompiledQuery:
    """A checked query, in DuckDB SQL, with the extra user count column(s) of its output."""

    sql: str
    tables: frozenset[str]
    names: tuple[str, ...]
    metrics: tuple[bool, ...]
    extensions: dict[str, TimeWindowExtension] = field(default_factory=dict)
    #: The most restrictive aggregation-threshold class of the columns the output shows.
    threshold_class: str = "HIGH"


@dataclass(frozen=True)
class PrivacyRules:
    """How to treat output rows describing too few users.

    `threshold` is the MEDIUM and HIGH classes' (AMC's 100); a query whose output shows only
    LOW and NONE columns needs 2 and 1 users a row, never more than `threshold`.
    """

    threshold: int
    discriminator_column: str | None = None
    user_count_column: str | None = None
    reason_column: str | None = None
    #: Keep rows under the threshold with their metrics nulled (REMOVE_VALUES) instead of
    #: dropping them (REMOVE_ROWS).
    keep_rows: bool = False

    def row_threshold(self, threshold_class: str) -> int:
        """The distinct users an output row needs when its columns are of `threshold_class`."""
        return min(CLASS_THRESHOLDS.get(threshold_class, self.threshold), self.threshold)


@dataclass(frozen=True)
class QueryResult:
    files: tuple[str, ...]
    row_count: int
    columns: tuple[OutputColumn, ...]


def _literal(value: Any, spec: ParameterSpec | None) -> exp.Expr:
    """A parameter value as a SQL literal (typed by its spec when there is one)."""
    data_type = spec.data_type if spec else None
    if data_type == "ARRAY" or isinstance(value, list):
        items = value
        if isinstance(value, str):
            try:
                items = json.loads(value)
            except json.JSONDecodeError:
                items = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(items, list):
            items = [items]
        element = ParameterSpec("", spec.element_type or "STRING", None, None) if spec else None
        return exp.Array(expressions=[_literal(item, element) for item in items])
    if value is None:
        return exp.Null()
    if isinstance(value, bool) or data_type == "BOOLEAN":
        truth = value if isinstance(value, bool) else str(value).strip().lower() == "true"
        return exp.Boolean(this=truth)
    if data_type in ("INTEGER", "LONG", "SHORT", "BYTE", "DOUBLE", "FLOAT", "DECIMAL") or (
        data_type is None and isinstance(value, int | float)
    ):
        try:
            float(value)
        except (TypeError, ValueError) as exc:
            raise compile_error(f"Parameter value {value!r} is not a number ({data_type})") from exc
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


class AmcSqlCompiler:
    """Checks and translates AMC SQL; one instance serves every thread."""

    def __init__(self) -> None:
        self._check = duckdb.connect()
        self._check.execute("set TimeZone = 'UTC'")
        install_amc_functions(self._check)
        # Empty tables to bind queries against, made on first use: the catalogue has 68.
        self._schema = duckdb_schema()
        self._made: set[str] = set()
        self._lock = threading.Lock()

    def compile(
        self,
        sql: str,
        parameters: dict[str, Any],
        specs: list[ParameterSpec],
        window: DataWindow | None,
        require_values: bool = True,
        tables: dict[str, Table] | None = None,
    ) -> CompiledQuery:
        """The DuckDB form of an AMC query, or AmcSqlError with AMC's kind of message."""
        checked = check_query(sql, tables)
        qualified = checked.tree
        _substitute_parameters(sql, qualified, parameters, specs, window, require_values)
        metrics = tuple(contains_aggregate(p) for p in output_selects(qualified)[0].expressions)
        threshold_class = output_threshold_class(qualified)
        add_user_counts(qualified)
        _translate_functions(qualified)
        translated = qualified.sql(dialect="duckdb")
        self._bind_check(translated, checked.tables)
        return CompiledQuery(
            translated,
            checked.tables,
            checked.names,
            metrics,
            dict(checked.extensions),
            threshold_class,
        )

    def _bind_check(self, translated: str, tables: frozenset[str]) -> None:
        with self._lock:
            for table in sorted(tables - self._made):
                columns = ", ".join(f'"{n}" {kind}' for n, kind in self._schema[table].items())
                self._check.execute(f'create table "{table}" ({columns})')
                self._made.add(table)
            try:
                self._check.execute(f"describe {translated}")
            except duckdb.Error as exc:
                message = str(exc).split("\n")[0]
                raise compile_error(message) from exc


def _substitute_parameters(
    sql: str,
    tree: exp.Expr,
    parameters: dict[str, Any],
    specs: list[ParameterSpec],
    window: DataWindow | None,
    require_values: bool,
) -> None:
    by_name = {s.name: s for s in specs}
    for call in list(tree.find_all(exp.Anonymous)):
        name = str(call.name).upper()
        if name not in ("CUSTOM_PARAMETER", "BUILT_IN_PARAMETER"):
            continue
        args = call.expressions
        if len(args) != 1 or not isinstance(args[0], exp.Literal) or not args[0].is_string:
            raise compile_error(
                f"{name} takes one string literal, the parameter's name.",
                node_position(sql, call),
            )
        key = args[0].name
        if name == "BUILT_IN_PARAMETER":
            call.replace(_built_in(key, window, sql, call))
            continue
        spec = by_name.get(key)
        if key in parameters:
            value = parameters[key]
        elif spec is not None and spec.default is not None:
            value = spec.default
        elif require_values:
            raise compile_error(
                f"No value for parameter '{key}': give it in parameterValues or as the "
                "defaultValue of the workflow's inputParameters.",
                node_position(sql, call),
            )
        else:
            value = None
        call.replace(_literal(value, spec))


def _translate_functions(tree: exp.Expr) -> None:
    """AMC functions whose DuckDB spelling differs, rewritten in place."""
    for call in list(tree.find_all(exp.Anonymous)):
        name = str(call.name).upper()
        args = call.expressions
        if name == "COLLECT" and len(args) == 1:
            # COLLECT keeps duplicates unless asked for DISTINCT, as AMC documents.
            call.replace(exp.Anonymous(this="list", expressions=[args[0]]))
        elif name == "CARDINALITY" and len(args) == 1:
            call.replace(exp.Anonymous(this="len", expressions=args))
        elif name == "PERCENTILE" and len(args) == 2:
            call.replace(exp.Anonymous(this="quantile_cont", expressions=args))
        elif name == "NAMED_ROW":
            # The front end checked the form: string labels, each followed by its value.
            fields = [
                exp.PropertyEQ(this=exp.to_identifier(label.name, quoted=True), expression=value)
                for label, value in zip(args[0::2], args[1::2], strict=True)
            ]
            call.replace(exp.Struct(expressions=fields))
        elif name in ("TO_VARBINARY", "FROM_VARBINARY") and len(args) == 2:
            function = VARBINARY_FUNCTIONS[(name, args[1].name.lower())]
            call.replace(exp.Anonymous(this=function, expressions=[args[0]]))
    for to_map in list(tree.find_all(exp.StrToMap)):
        # The delimiters AMC (like Spark) defaults to; the macro takes all three.
        pair = to_map.args.get("pair_delim") or exp.Literal.string(",")
        key_value = to_map.args.get("key_value_delim") or exp.Literal.string(":")
        to_map.replace(exp.Anonymous(this="str_to_map", expressions=[to_map.this, pair, key_value]))
    for weekday in list(tree.find_all(exp.DayOfWeek)):
        # AMC counts days from 1 (Sunday), DuckDB from 0.
        weekday.replace(
            exp.Paren(this=exp.Add(this=weekday.copy(), expression=exp.Literal.number(1)))
        )
    for cast_node in list(tree.find_all(exp.Cast, exp.TryCast)):
        value = cast_node.this
        if not (isinstance(value, exp.Literal) and value.is_string):
            continue
        word = value.name.strip().lower()
        if word == "today" and cast_node.to.is_type(exp.DataType.Type.DATE):
            cast_node.replace(exp.CurrentDate())
        elif word == "now":
            cast_node.replace(exp.cast(exp.CurrentTimestamp(), "TIMESTAMP"))


def _built_in(key: str, window: DataWindow | None, sql: str, call: exp.Expr) -> exp.Expr:
    if key.upper() not in ("TIME_WINDOW_START", "TIME_WINDOW_END", "TIME_WINDOW_TIME_ZONE"):
        raise compile_error(f"Unknown built-in parameter '{key}'", node_position(sql, call))
    if window is None:
        if key.upper() == "TIME_WINDOW_TIME_ZONE":
            return exp.Literal.string("UTC")
        return exp.cast(exp.Literal.string("1970-01-01 00:00:00"), "TIMESTAMP")
    if key.upper() == "TIME_WINDOW_TIME_ZONE":
        return exp.Literal.string(window.time_zone)
    moment = window.start if key.upper() == "TIME_WINDOW_START" else window.end
    return exp.cast(exp.Literal.string(moment.replace(tzinfo=None).isoformat(sep=" ")), "TIMESTAMP")


def amc_type(duckdb_type: str) -> str:
    base = duckdb_type.upper()
    if base.startswith("DECIMAL"):
        return "DECIMAL"
    if base.endswith("[]"):
        return "STRING"
    return AMC_TYPES.get(base, "STRING")


# --- user lineage -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lineage:
    """How a scope's rows carry their users: a user id column, or a list of user ids."""

    is_list: bool
    column: str


def _source_lineage(scope: Scope, lineages: dict[int, _Lineage | None]) -> exp.Expr | None:
    """An expression, in `scope`, giving the users of a row: every joined source counts."""
    found: list[exp.Expr] = []
    for alias, (_, source) in scope.selected_sources.items():
        if isinstance(source, exp.Table):
            table = TABLES.get(source.name.lower())
            if table is not None and table.column("user_id") is not None:
                found.append(exp.column("user_id", table=alias, quoted=True))
        elif isinstance(source, Scope):
            lineage = lineages.get(id(source.expression))
            if lineage is not None:
                column = exp.column(lineage.column, table=alias, quoted=True)
                column.meta["is_list"] = lineage.is_list
                found.append(column)
    if len(found) <= 1:
        return found[0] if found else None
    if not any(f.meta.get("is_list") for f in found):
        # AMC joins on user_id: a joined row is one user, whichever side (outer joins) has it.
        return exp.Coalesce(this=found[0], expressions=found[1:])
    # A joined row speaks for the users of all its sides (NULLs of outer joins drop out later).
    combined: exp.Expr = _as_list(found[0])
    for other in found[1:]:
        combined = exp.Anonymous(this="list_concat", expressions=[combined, _as_list(other)])
    combined.meta["is_list"] = True
    return combined


def _as_list(users: exp.Expr) -> exp.Expr:
    return users if users.meta.get("is_list") else exp.Array(expressions=[users])


def _exposed(select: exp.Select, users: exp.Expr) -> str | None:
    """The output name under which `select` passes the users column through unchanged."""
    for projection in select.expressions:
        inner = projection.unalias()
        if (
            isinstance(inner, exp.Column)
            and isinstance(users, exp.Column)
            and inner.name == users.name
            and inner.table == users.table
        ):
            return projection.alias_or_name
    return None


def _users_list(users: exp.Expr, grouped: bool) -> exp.Expr:
    """The hidden users column of a select: a list of user ids per row."""
    is_list = bool(users.meta.get("is_list"))
    if grouped:
        if is_list:
            return exp.Anonymous(
                this="flatten", expressions=[exp.Anonymous(this="list", expressions=[users])]
            )
        return exp.Anonymous(this="list", expressions=[exp.Distinct(expressions=[users])])
    if is_list:
        return users
    return exp.Array(expressions=[users])


def _user_count(users: exp.Expr, grouped: bool) -> exp.Expr:
    is_list = bool(users.meta.get("is_list"))
    if grouped:
        if is_list:
            return exp.Anonymous(
                this="len",
                expressions=[
                    exp.Anonymous(
                        this="list_distinct",
                        expressions=[
                            exp.Anonymous(
                                this="flatten",
                                expressions=[exp.Anonymous(this="list", expressions=[users])],
                            )
                        ],
                    )
                ],
            )
        return exp.Count(this=exp.Distinct(expressions=[users]))
    if is_list:
        return exp.Anonymous(
            this="len", expressions=[exp.Anonymous(this="list_distinct", expressions=[users])]
        )
    return exp.Case(
        ifs=[exp.If(this=users.is_(exp.null()), true=exp.Literal.number(0))],
        default=exp.Literal.number(1),
    )


def add_user_counts(tree: exp.Expr) -> None:
    """Give every output select a last `__sim_user_count` column (NULL where no users flow)."""
    root = build_scope(tree)
    if root is None:
        raise compile_error("The query has no scope to read from.")
    lineages: dict[int, _Lineage | None] = {}
    outputs = {id(s) for s in output_selects(tree)}
    for scope in root.traverse():
        node = scope.expression
        if isinstance(node, exp.SetOperation):
            lineages[id(node)] = _set_operation_lineage(node, lineages)
            continue
        if not isinstance(node, exp.Select) or scope.scope_type == ScopeType.SUBQUERY:
            continue
        users = _source_lineage(scope, lineages)
        grouped = is_grouped(node)
        if id(node) in outputs:
            count = _user_count(users, grouped) if users is not None else exp.null()
            node.select(exp.alias_(count, USER_COUNT_COLUMN, quoted=True), copy=False)
            continue
        if users is None:
            lineages[id(node)] = None
            continue
        exposed = _exposed(node, users)
        in_set = scope.scope_type == ScopeType.SET_OPERATION
        if exposed is not None and not users.meta.get("is_list") and not in_set:
            lineages[id(node)] = _Lineage(False, exposed)
            continue
        if node.args.get("distinct") and not grouped:
            lineages[id(node)] = None
            continue
        node.select(exp.alias_(_users_list(users, grouped), USERS_COLUMN, quoted=True), copy=False)
        lineages[id(node)] = _Lineage(True, USERS_COLUMN)


def _set_operation_lineage(
    node: exp.SetOperation, lineages: dict[int, _Lineage | None]
) -> _Lineage | None:
    branches = [node.this, node.expression]
    found = [lineages.get(id(b)) for b in branches]
    if all(f is not None and f.is_list and f.column == USERS_COLUMN for f in found):
        return _Lineage(True, USERS_COLUMN)
    return None


# --- aggregation-threshold classes ------------------------------------------------------------


def _counted(column: exp.Column, stop: exp.Expr) -> bool:
    """True when `column` reaches `stop` only through a COUNT: its values never show."""
    current = column.parent
    while current is not None and current is not stop.parent:
        if isinstance(current, exp.Count | exp.ApproxDistinct):
            return True
        current = current.parent
    return False


def _projection_classes(scope: Scope, name: str | None) -> set[str]:
    """The classes of the source columns behind output column `name` (every one when None)."""
    index = None
    if name is not None:
        if not isinstance(scope.expression, exp.Query):
            return set()
        names = [n.lower() for n in scope.expression.named_selects]
        if name.lower() not in names:
            return set()
        index = names.index(name.lower())
    return _positional_classes(scope, index)


def _positional_classes(scope: Scope, index: int | None) -> set[str]:
    """The classes behind the output column at `index` (every one when None)."""
    if isinstance(scope.expression, exp.SetOperation):
        # A UNION's branches give the same output column at the same place.
        return {c for b in scope.set_operation_scopes for c in _positional_classes(b, index)}
    if not isinstance(scope.expression, exp.Select):
        return set()
    projections = scope.expression.expressions
    chosen = projections if index is None else projections[index : index + 1]
    found: set[str] = set()
    for projection in chosen:
        for column in projection.find_all(exp.Column):
            if column.find_ancestor(exp.Select) is not scope.expression:
                continue
            if not _counted(column, projection):
                found |= _column_classes(scope, column)
    return found


def _column_classes(scope: Scope, column: exp.Column) -> set[str]:
    source = scope.sources.get(column.table)
    if isinstance(source, Scope):
        return _projection_classes(source, column.name)
    if isinstance(source, exp.Table):
        table = TABLES.get(source.name.lower())
        documented = table.column(column.name) if table is not None else None
        # VERY_HIGH and INTERNAL columns only leave a query counted or hidden in a condition
        # (the front end refuses the rest): they set no threshold of their own.
        if documented is not None and documented.sensitivity in CLASS_ORDER:
            return {documented.sensitivity}
    return set()


def output_threshold_class(tree: exp.Expr) -> str:
    """The most restrictive aggregation-threshold class among the columns the output shows.

    Amazon's reference: a column's values appear in the output only in rows of at least its
    class's distinct users (NONE 1, LOW 2, MEDIUM and HIGH 100). A column shows when an output
    column's value is computed from it, directly or through WITH queries and subqueries; one
    only counted (`COUNT(DISTINCT user_id)`), filtered on, joined or grouped on does not.
    """
    root = build_scope(tree)
    if root is None:
        return CLASS_ORDER[-1]
    found = _projection_classes(root, None)
    return max(found, key=CLASS_ORDER.index, default=CLASS_ORDER[0])


# --- running ------------------------------------------------------------------------------


def install_amc_functions(con: duckdb.DuckDBPyConnection) -> None:
    """AMC functions DuckDB lacks, as macros."""
    for statement in sql_statements(load_sql("amc_functions")):
        con.execute(statement)


def _quoted(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="duckdb")


def _final_select(compiled: CompiledQuery, rules: PrivacyRules | None) -> str:
    """The outer query over the compiled one: threshold, renaming, extra privacy columns."""
    originals = [f"_q{i}" for i in range(len(compiled.names))]
    inner_names = ", ".join([_quoted(n) for n in [*originals, USER_COUNT_COLUMN]])
    users = _quoted(USER_COUNT_COLUMN)
    passes = "true"
    if rules is not None:
        # A row without user lineage (NULL count) passes: only counted rows are judged.
        threshold = rules.row_threshold(compiled.threshold_class)
        passes = f"coalesce({users} >= {int(threshold)}, true)"
    columns = []
    for original, name, metric in zip(originals, compiled.names, compiled.metrics, strict=True):
        value = _quoted(original)
        if rules is not None and rules.keep_rows and metric:
            value = f"case when {passes} then {value} end"
        columns.append(f"{value} as {_quoted(name)}")
    where = ""
    if rules is not None:
        if rules.discriminator_column:
            columns.append(f"not ({passes}) as {_quoted(rules.discriminator_column)}")
            if rules.reason_column:
                columns.append(
                    f"case when not ({passes}) then 'AGGREGATION_THRESHOLD' end "
                    f"as {_quoted(rules.reason_column)}"
                )
        if not rules.keep_rows:
            where = f" where {passes}"
        if rules.user_count_column:
            columns.append(f"{users} as {_quoted(rules.user_count_column)}")
    return f"select {', '.join(columns)} from ({compiled.sql}) as __sim_q ({inner_names}){where}"


class QueryRunner:
    """Runs compiled queries on the warehouse and writes their CSV files."""

    def __init__(self, warehouse: Warehouse, compiler: AmcSqlCompiler) -> None:
        self._warehouse = warehouse
        self._compiler = compiler
        # Macros live in the database, shared by every cursor: created once, before any query.
        setup = warehouse.cursor()
        try:
            install_amc_functions(setup)
        finally:
            setup.close()
        self._running: dict[str, duckdb.DuckDBPyConnection] = {}
        self._lock = threading.Lock()

    def run(
        self,
        run_id: str,
        compiled: CompiledQuery,
        window: DataWindow,
        rules: PrivacyRules | None,
        out_dir: Path,
        max_file_rows: int,
        header_only: bool = False,
    ) -> QueryResult:
        """Run the query over the window's data and write `part-N.csv` files into out_dir.

        The sorted result stays inside DuckDB (which spills to disk when it must) and is copied
        out `max_file_rows` rows per file; nothing of it passes through Python.
        """
        final = _final_select(compiled, rules)
        if header_only:
            final = f"select * from ({final}) where false"
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in out_dir.glob("part-*.csv"):
            stale.unlink()
        files: list[str] = []
        extensions = {
            table: (widening.before_seconds, widening.after_seconds)
            for table, widening in compiled.extensions.items()
        }
        with self._warehouse.session(window, set(compiled.tables), extensions) as cur:
            with self._lock:
                self._running[run_id] = cur
            try:
                cur.execute(
                    f"create temp table __sim_result as select * from ({final}) order by all"
                )
                described = cur.execute("describe __sim_result").fetchall()
                count = cur.execute("select count(*) from __sim_result").fetchone()
                total = int(count[0]) if count else 0
                per_file = max(1, int(max_file_rows))
                for index in range(max(1, math.ceil(total / per_file))):
                    name = f"part-{index}.csv"
                    target = str(out_dir / name).replace("'", "''")
                    cur.execute(
                        "copy (select * from __sim_result "
                        f"where rowid >= {index * per_file} and rowid < {(index + 1) * per_file} "
                        f"order by rowid) to '{target}' (format csv, header true)"
                    )
                    files.append(name)
            except duckdb.Error as exc:
                raise QueryRuntimeError(str(exc).split("\n")[0]) from exc
            finally:
                with self._lock:
                    self._running.pop(run_id, None)
        columns = tuple(
            OutputColumn(
                name,
                amc_type(kind),
                "METRIC" if idx < len(compiled.metrics) and compiled.metrics[idx] else "DIMENSION",
            )
            for idx, (name, kind, *_) in enumerate(described)
        )
        return QueryResult(tuple(files), total, columns)

    def interrupt(self, run_id: str) -> None:
        with self._lock:
            cur = self._running.get(run_id)
        if cur is not None:
            cur.interrupt()
