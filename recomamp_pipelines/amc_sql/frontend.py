"""Parse AMC SQL and check it the way AMC's compiler does, with AMC's wording and positions.

sqlglot reads the query as Spark SQL (the dialect AMC's is closest to). The checks are AMC's
documented restrictions: one query; no `LIMIT`; `ORDER BY` only inside window functions; no
`RIGHT JOIN`; no `SELECT *` over an AMC table (over a WITH query or a VALUES list it is
fine); every query aggregates; tables and columns exist ("Object 'x' not found", "Column 'x'
not found in any table", at the line and column of the offending text); VERY_HIGH and
INTERNAL columns never reach the output unless counted; HIGH and VERY_HIGH columns are never
compared with literal values; no list ends with a comma (`GROUP BY 1,`); NAMED_ROW,
TO_VARBINARY, FROM_VARBINARY and JSON_SERIALIZE get the arguments Amazon's reference gives them.
`TABLE(EXTEND_TIME_WINDOW('t', 'P14D', 'P1D'))` reads table `t` over a widened window; the front
end rewrites it to `t` and reports the widening.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import cast

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import OptimizeError, ParseError, SqlglotError, TokenError
from sqlglot.optimizer.qualify import qualify
from sqlglot.tokens import Token, TokenType

from recomamp_pipelines.amc_sql.catalogue import (
    NEVER_OUTPUT,
    NO_LITERAL_FILTERS,
    TABLES,
    Table,
    duckdb_schema,
)

COMPILE_PREFIX = "Unable to compile the SQL query."
#: AMC functions that aggregate, beyond those sqlglot knows as aggregates.
AGGREGATE_FUNCTIONS = frozenset({"COLLECT", "MEDIAN", "PERCENTILE"})
#: The encodings TO_VARBINARY and FROM_VARBINARY take, as Amazon's reference lists them.
VARBINARY_ENCODINGS = ("hex", "base64", "utf-8")
#: Tokens that end a list: a comma right before one of them leaves the list with no last item.
_LIST_ENDS = frozenset(
    {
        TokenType.R_PAREN,
        TokenType.FROM,
        TokenType.WHERE,
        TokenType.GROUP_BY,
        TokenType.HAVING,
        TokenType.WINDOW,
        TokenType.QUALIFY,
        TokenType.ORDER_BY,
        TokenType.LIMIT,
        TokenType.UNION,
        TokenType.EXCEPT,
        TokenType.INTERSECT,
        TokenType.SEMICOLON,
    }
)
_DURATION = re.compile(r"^P(?:(\d+)D|(\d+)W|T(\d+)H)$", re.IGNORECASE)


class AmcSqlError(ValueError):
    """A query AMC would refuse at create time; the message is AMC's `details`."""


@dataclass(frozen=True)
class Position:
    """A span of the original SQL text, 1-based like AMC's messages."""

    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def of_span(cls, sql: str, start: int, end: int) -> Position:
        line, column = _line_column(sql, start)
        end_line, end_column = _line_column(sql, end)
        return cls(line, column, end_line, end_column)

    def text(self) -> str:
        return (
            f"From line {self.line}, column {self.column} "
            f"to line {self.end_line}, column {self.end_column}"
        )


def _line_column(sql: str, offset: int) -> tuple[int, int]:
    offset = max(0, min(offset, len(sql) - 1)) if sql else 0
    line = sql.count("\n", 0, offset) + 1
    column = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return line, column


def compile_error(message: str, position: Position | None = None) -> AmcSqlError:
    where = f" {position.text()}: " if position else " "
    return AmcSqlError(f"{COMPILE_PREFIX}{where}{message}")


def node_position(sql: str, node: exp.Expr) -> Position | None:
    """Where a parsed node came from, when sqlglot kept its token offsets."""
    target = node.this if isinstance(node, exp.Column | exp.Table) else node
    meta = target.meta if isinstance(target, exp.Expr) else {}
    if "start" in meta and "end" in meta:
        return Position.of_span(sql, int(meta["start"]), int(meta["end"]))
    for child in node.walk():
        meta = child.meta if isinstance(child, exp.Expr) else {}
        if "start" in meta and "end" in meta:
            return Position.of_span(sql, int(meta["start"]), int(meta["end"]))
    return None


@dataclass(frozen=True)
class TimeWindowExtension:
    """How far `EXTEND_TIME_WINDOW` widens one table's window, in seconds."""

    before_seconds: int
    after_seconds: int


@dataclass
class CheckedQuery:
    """A query that passed every check: its qualified tree, tables and output names."""

    tree: exp.Query
    tables: frozenset[str]
    names: tuple[str, ...]
    extensions: dict[str, TimeWindowExtension] = field(default_factory=dict)


# --- parsing ------------------------------------------------------------------------------


def parse(sql: str) -> exp.Query:
    """The one query in `sql`, or AmcSqlError naming where it stops being AMC SQL."""
    if not sql or not sql.strip():
        raise compile_error("The query is empty.")
    try:
        statements = [s for s in sqlglot.parse(sql, read="spark") if s is not None]
    except ParseError as exc:
        error = exc.errors[0] if exc.errors else {}
        highlight = str(error.get("highlight") or "")
        line, col = int(error.get("line") or 1), int(error.get("col") or 1)
        position = Position(line, max(1, col - len(highlight) + 1), line, col)
        found = f'Encountered "{highlight}"' if highlight else "Syntax error"
        detail = error.get("description") or "invalid syntax"
        raise compile_error(
            f"{found} at line {position.line}, column {position.column}: {detail}", position
        ) from exc
    except TokenError as exc:
        raise compile_error(f"Lexical error: {exc}") from exc
    if len(statements) != 1:
        raise compile_error(f"Expected exactly one query, found {len(statements)} statements.")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise compile_error(
            f"Only queries can run in AMC; found a {tree.key.upper()} statement.",
            node_position(sql, tree),
        )
    return tree


def _tokens(sql: str) -> list[Token]:
    try:
        return list(Dialect.get_or_raise("spark").tokenize(sql))
    except TokenError:
        return []


def _keyword_position(sql: str, kinds: set[TokenType]) -> Position | None:
    """Where the first keyword of one of `kinds` is in the SQL text."""
    for token in _tokens(sql):
        if token.token_type in kinds:
            return Position.of_span(sql, token.start, token.end)
    return None


def _query_order_position(sql: str) -> Position | None:
    """Where an ORDER BY sorts a query (not a window or an aggregate's input)."""
    tokens = _tokens(sql)
    opened: list[bool] = []  # per open parenthesis: does it hold a query?
    for index, token in enumerate(tokens):
        if token.token_type == TokenType.L_PAREN:
            following = tokens[index + 1].token_type if index + 1 < len(tokens) else None
            opened.append(following in (TokenType.SELECT, TokenType.WITH))
        elif token.token_type == TokenType.R_PAREN and opened:
            opened.pop()
        elif token.token_type == TokenType.ORDER_BY and (not opened or opened[-1]):
            return Position.of_span(sql, token.start, token.end)
    return None


def check_trailing_commas(sql: str) -> None:
    """A list (GROUP BY 1, 2, ...; SELECT a, b; f(a, b)) never ends with a comma in AMC."""
    tokens = _tokens(sql)
    clauses: list[str] = []  # per open parenthesis, then the query: the list being read
    clause = "list"
    for index, token in enumerate(tokens):
        if token.token_type == TokenType.L_PAREN:
            clauses.append(clause)
            clause = "argument list"
        elif token.token_type == TokenType.R_PAREN and clauses:
            clause = clauses.pop()
        elif token.token_type == TokenType.GROUP_BY:
            clause = "GROUP BY list"
        elif token.token_type == TokenType.SELECT:
            clause = "SELECT list"
        elif token.token_type in (TokenType.ORDER_BY, TokenType.PARTITION_BY):
            clause = f"{' '.join(token.text.upper().split())} list"
        if token.token_type != TokenType.COMMA:
            continue
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if following is not None and following.token_type not in _LIST_ENDS:
            continue
        comma = Position.of_span(sql, token.start, token.end)
        if following is None:
            found, line, column = "<EOF>", comma.end_line, comma.end_column + 1
        else:
            found, (line, column) = following.text, _line_column(sql, following.start)
        raise compile_error(
            f'Encountered "{found}" at line {line}, column {column}: '
            f"the {clause} ends with a comma; remove it or add the missing item.",
            comma,
        )


# --- functions ----------------------------------------------------------------------------


def _string_literal(node: exp.Expr) -> str | None:
    return node.name if isinstance(node, exp.Literal) and node.is_string else None


def check_functions(sql: str, tree: exp.Query) -> None:
    """Arguments of the AMC functions whose form AMC fixes (NAMED_ROW, TO_VARBINARY, ...)."""
    for call in tree.find_all(exp.Anonymous):
        name = str(call.name).upper()
        args = call.expressions
        where = node_position(sql, call)
        if name == "NAMED_ROW":
            labels = args[0::2]
            if not args or len(args) % 2 or any(not _string_literal(a) for a in labels):
                raise compile_error(
                    "NAMED_ROW takes pairs of a string label and a value, as in "
                    f"NAMED_ROW('label1', value1, 'label2', value2); found {call.sql('spark')}.",
                    where,
                )
            seen: set[str] = set()
            for label in labels:
                text = label.name.lower()
                if text in seen:
                    raise compile_error(
                        f"NAMED_ROW label '{label.name}' is given twice: labels must be unique.",
                        where,
                    )
                seen.add(text)
        elif name in ("TO_VARBINARY", "FROM_VARBINARY"):
            encoding = _string_literal(args[1]) if len(args) == 2 else None
            if encoding is None or encoding.lower() not in VARBINARY_ENCODINGS:
                expected = ", ".join(f"'{e}'" for e in VARBINARY_ENCODINGS)
                raise compile_error(
                    f"{name} takes a value and an encoding, one of {expected}; "
                    f"found {call.sql('spark')}.",
                    where,
                )
        elif name == "JSON_SERIALIZE" and len(args) != 1:
            raise compile_error(
                f"JSON_SERIALIZE takes one JSON value; found {call.sql('spark')}.", where
            )


# --- shape --------------------------------------------------------------------------------


def is_aggregate(node: exp.Expr) -> bool:
    if isinstance(node, exp.AggFunc):
        return True
    return isinstance(node, exp.Anonymous) and str(node.name).upper() in AGGREGATE_FUNCTIONS


def contains_aggregate(node: exp.Expr) -> bool:
    """True when `node` aggregates outside any window function."""
    for found in node.find_all(exp.AggFunc, exp.Anonymous):
        if is_aggregate(found) and not found.find_ancestor(exp.Window):
            return True
    return False


def is_grouped(select: exp.Select) -> bool:
    if select.args.get("group"):
        return True
    return any(contains_aggregate(p) for p in select.expressions) or bool(select.args.get("having"))


def _reads_amc_table(select: exp.Select, ctes: set[str]) -> bool:
    sources: list[exp.Expr] = []
    from_ = select.args.get("from_") or select.args.get("from")
    if isinstance(from_, exp.From):
        sources.append(from_.this)
    sources.extend(j.this for j in select.args.get("joins") or [])
    return any(isinstance(s, exp.Table) and s.name.lower() not in ctes for s in sources)


def check_shape(sql: str, tree: exp.Query) -> None:
    """AMC's restrictions on the form of a query (before tables and columns are looked at)."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for star in tree.find_all(exp.Star):
        if isinstance(star.parent, exp.Count):
            continue
        select = star.find_ancestor(exp.Select)
        if select is not None and not _reads_amc_table(select, ctes):
            continue
        raise compile_error(
            "SELECT * is not supported in AMC: name the columns to select.",
            node_position(sql, star) or _keyword_position(sql, {TokenType.STAR}),
        )
    for _ in tree.find_all(exp.Limit, exp.Fetch, exp.Offset):
        raise compile_error(
            "LIMIT is not supported in AMC: results always hold every aggregated row.",
            _keyword_position(sql, {TokenType.LIMIT, TokenType.FETCH, TokenType.OFFSET}),
        )
    for order in tree.find_all(exp.Order):
        if order.find_ancestor(exp.Window, exp.WithinGroup, exp.AggFunc):
            continue
        raise compile_error(
            "ORDER BY is only supported inside window functions (OVER (... ORDER BY ...)) "
            "in AMC: sort the results after downloading them.",
            _query_order_position(sql),
        )
    for join in tree.find_all(exp.Join):
        if str(join.args.get("side") or "").upper() == "RIGHT":
            raise compile_error(
                "RIGHT JOIN is not supported in AMC: use LEFT JOIN with the tables swapped.",
                _keyword_position(sql, {TokenType.RIGHT}),
            )
    selects = list(tree.find_all(exp.Select))
    if not any(is_grouped(s) for s in selects):
        raise compile_error(
            "AMC queries must aggregate: use GROUP BY with aggregate functions such as "
            "SUM(impressions) or COUNT(DISTINCT user_id); row-level output is not allowed."
        )


# --- tables -------------------------------------------------------------------------------


def _duration_seconds(sql: str, literal: exp.Expr, call: exp.Expr) -> int:
    text = literal.name if isinstance(literal, exp.Literal) and literal.is_string else ""
    match = _DURATION.match(text.strip())
    if not match:
        raise compile_error(
            f"EXTEND_TIME_WINDOW takes ISO 8601 durations such as 'P14D', 'P2W' or 'PT12H', "
            f"not {literal.sql(dialect='spark')}.",
            node_position(sql, call),
        )
    days, weeks, hours = match.groups()
    return int(days or 0) * 86400 + int(weeks or 0) * 7 * 86400 + int(hours or 0) * 3600


def rewrite_extended_tables(sql: str, tree: exp.Query) -> dict[str, TimeWindowExtension]:
    """Replace `TABLE(EXTEND_TIME_WINDOW('t', before, after))` by `t`; the widening per table."""
    extensions: dict[str, TimeWindowExtension] = {}
    for table in list(tree.find_all(exp.Table)):
        call = table.this
        if isinstance(call, exp.Anonymous) and str(call.name).upper() == "TABLE":
            inner = call.expressions[0] if len(call.expressions) == 1 else None
        else:
            inner = call
        if not (isinstance(inner, exp.Anonymous) and inner.name.upper() == "EXTEND_TIME_WINDOW"):
            continue
        args = inner.expressions
        if len(args) != 3 or not isinstance(args[0], exp.Literal) or not args[0].is_string:
            raise compile_error(
                "EXTEND_TIME_WINDOW takes three strings: the table, the duration before the "
                "time window and the duration after it.",
                node_position(sql, inner),
            )
        name = args[0].name.lower()
        widening = TimeWindowExtension(
            _duration_seconds(sql, args[1], inner), _duration_seconds(sql, args[2], inner)
        )
        previous = extensions.get(name)
        if previous is not None:
            widening = TimeWindowExtension(
                max(previous.before_seconds, widening.before_seconds),
                max(previous.after_seconds, widening.after_seconds),
            )
        extensions[name] = widening
        replacement = exp.to_table(name)
        replacement.this.meta.update(inner.meta or args[0].meta)
        alias = table.args.get("alias")
        if alias is not None:
            replacement.set("alias", alias)
        table.replace(replacement)
    return extensions


def check_tables(sql: str, tree: exp.Query, tables: dict[str, Table]) -> frozenset[str]:
    """The AMC tables `tree` reads, or AMC's "Object 'x' not found" at the table's position."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    used: set[str] = set()
    for table in tree.find_all(exp.Table):
        name = table.name.lower()
        if not name:
            raise compile_error(
                "Only tables and WITH queries can be selected from.",
                node_position(sql, table),
            )
        if table.args.get("db") or table.args.get("catalog"):
            raise compile_error(
                f"Object '{table.sql(dialect='spark')}' not found", node_position(sql, table)
            )
        if name in ctes:
            continue
        if name not in tables:
            raise compile_error(f"Object '{table.name}' not found", node_position(sql, table))
        used.add(name)
    if not used:
        raise compile_error("The query reads no AMC table.")
    return frozenset(used)


# --- columns ------------------------------------------------------------------------------


def qualify_columns(sql: str, tree: exp.Query, tables: dict[str, Table]) -> exp.Query:
    """`tree` with every column qualified, or "Column 'x' not found" at the column."""
    schema = duckdb_schema(tables)
    try:
        qualified = qualify(
            tree,
            schema=cast(dict[str, object], schema),
            dialect="spark",
            validate_qualify_columns=True,
        )
    except OptimizeError as exc:
        raise _column_error(sql, tree, str(exc)) from exc
    except SqlglotError as exc:
        raise compile_error(str(exc)) from exc
    return cast(exp.Query, qualified)


def _column_error(sql: str, tree: exp.Expr, message: str) -> AmcSqlError:
    match = re.search(r"Column '([^']+)' could not be resolved|Unknown column: (\S+)", message)
    if not match:
        return compile_error(message)
    wanted = (match.group(1) or match.group(2)).strip("\"'`").lower()
    for column in tree.find_all(exp.Column):
        if column.name.lower() == wanted:
            table = column.table
            where = f" in table '{table}'" if table else " in any table"
            return compile_error(
                f"Column '{column.name}' not found{where}", node_position(sql, column)
            )
    return compile_error(f"Column '{wanted}' not found in any table")


def output_selects(tree: exp.Expr) -> list[exp.Select]:
    """The selects whose rows are the output: the root, or every branch of a root UNION."""
    if isinstance(tree, exp.SetOperation):
        return [*output_selects(tree.this), *output_selects(tree.expression)]
    if isinstance(tree, exp.Subquery):
        return output_selects(tree.this)
    return [tree] if isinstance(tree, exp.Select) else []


def _first_select(tree: exp.Expr) -> exp.Select:
    first = tree
    while isinstance(first, exp.SetOperation):
        first = first.this
    if not isinstance(first, exp.Select):
        raise compile_error("The outermost query must be a SELECT.")
    return first


def output_names(tree: exp.Query) -> tuple[str, ...]:
    """The output column names of the outermost select, refusing duplicates."""
    first = _first_select(tree)
    names: list[str] = []
    for projection in first.expressions:
        if isinstance(projection, exp.Alias):
            names.append(projection.alias)
        elif isinstance(projection, exp.Column):
            names.append(projection.name)
        else:
            names.append(projection.sql(dialect="spark").lower())
    seen: set[str] = set()
    for name in names:
        if name.lower() in seen:
            raise compile_error(f"Duplicate output column name '{name}'.")
        seen.add(name.lower())
    return tuple(names)


def _sensitive_names(tables: frozenset[str], classes: frozenset[str]) -> set[str]:
    return {
        column.name
        for name in tables
        for column in TABLES[name].columns
        if column.sensitivity in classes
    }


def _hidden(column: exp.Column, stop: exp.Expr, by_any_aggregate: bool = False) -> bool:
    """True when `column`'s values do not reach the projection `stop` as they are.

    A COUNT hides them (AMC's one way of outputting a VERY_HIGH column), so do a condition
    (`CASE WHEN user_id IS NULL ...`) and a window's PARTITION BY or ORDER BY; inside WITH
    queries (`by_any_aggregate`) every aggregate does.
    """
    child: exp.Expr = column
    current = column.parent
    while current is not None and current is not stop.parent:
        if isinstance(current, exp.Count | exp.ApproxDistinct):
            return True
        if isinstance(current, exp.Predicate | exp.Connector | exp.Not):
            return True
        if by_any_aggregate and is_aggregate(current):
            return True
        if isinstance(current, exp.Window) and child is not current.this:
            return True
        child, current = current, current.parent
    return False


def check_output(sql: str, qualified: exp.Query, tables: frozenset[str]) -> None:
    """VERY_HIGH columns never output (unless counted); HIGH columns never filtered on literals."""
    private = _sensitive_names(tables, NEVER_OUTPUT)
    # WITH queries that pass a private column through under another name make that name private.
    for cte in qualified.find_all(exp.CTE):
        for select in output_selects(cte.this):
            for projection in select.expressions:
                for column in projection.find_all(exp.Column):
                    hidden = _hidden(column, projection, by_any_aggregate=True)
                    if column.name.lower() in private and not hidden:
                        private.add(projection.alias_or_name.lower())
    for select in output_selects(qualified):
        for projection in select.expressions:
            for column in projection.find_all(exp.Column):
                if column.name.lower() not in private or _hidden(column, projection):
                    continue
                raise compile_error(
                    f"{column.name} cannot appear in the output: it is a VERY_HIGH sensitivity "
                    f"column. Aggregate it, e.g. COUNT(DISTINCT {column.name}).",
                    node_position(sql, column),
                )
    restricted = _sensitive_names(tables, NO_LITERAL_FILTERS)
    for predicate in qualified.find_all(
        exp.EQ,
        exp.NEQ,
        exp.In,
        exp.Like,
        exp.ILike,
        exp.SimilarTo,
        exp.GT,
        exp.GTE,
        exp.LT,
        exp.LTE,
    ):
        column = predicate.this if isinstance(predicate.this, exp.Column) else None
        other: list[exp.Expr] = []
        if isinstance(predicate, exp.In):
            other = list(predicate.expressions)
        elif isinstance(predicate, exp.Binary):
            other = [predicate.expression]
            if column is None and isinstance(predicate.expression, exp.Column):
                column, other = predicate.expression, [predicate.this]
        if column is None or column.name.lower() not in restricted:
            continue
        if other and all(isinstance(o, exp.Literal) for o in other):
            raise compile_error(
                f"Column '{column.name}' has a HIGH aggregation threshold: it cannot be "
                "filtered on literal values.",
                node_position(sql, column),
            )


# --- everything at once ---------------------------------------------------------------------


def check_query(sql: str, tables: dict[str, Table] | None = None) -> CheckedQuery:
    """Every check AMC's compiler makes before it runs a query, in AMC's order."""
    available = TABLES if tables is None else tables
    tree = parse(sql)
    check_trailing_commas(sql)
    check_shape(sql, tree)
    check_functions(sql, tree)
    extensions = rewrite_extended_tables(sql, tree)
    used = check_tables(sql, tree, available)
    names = output_names(tree)
    starred = any(p.find(exp.Star) for p in _first_select(tree).expressions)
    # Only the tables read: qualifying against the whole catalogue costs several times more.
    qualified = qualify_columns(sql, tree, {name: available[name] for name in used})
    if starred:
        # `SELECT *` over a WITH query: the names are the expanded columns'.
        names = tuple(p.alias_or_name for p in _first_select(qualified).expressions)
    check_output(sql, qualified, used)
    return CheckedQuery(qualified, used, names, extensions)
