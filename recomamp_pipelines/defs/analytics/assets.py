"""Each view of `dbt_like_views/` is an asset `analytics/<view>`, upstream of what reads it.

The asset graph is built from the SQL itself (`compile_views` without a database): a view's
deps are the views it reads, and `amc/collection_weekly_results` where it reads the results
tables or the week and execution rows that asset writes. Materializing any selection applies
the whole set (a no-op for views whose SQL is unchanged: `views apply` replaces only what
changed) and refreshes the selected stored marts without blocking their readers.

Automation: a view runs when its file changes (its code version is the checksum of the file and
of the Jinja macros it calls) and after its upstream assets update, waiting while any of them is
in progress, so that a run of 52 weeks refreshes the marts once, after it, not once per week.
"""

from collections.abc import Iterator

import dagster as dg
import psycopg
from dagster import AssetExecutionContext
from psycopg import sql

from recomamp_pipelines.analytics.data_tests import data_tests, run_data_test
from recomamp_pipelines.analytics.views import (
    ANALYTICS_SCHEMA,
    CompiledView,
    apply_views,
    compile_views,
    creation_order,
    refresh_marts,
    static_views,
    view_columns,
)
from recomamp_pipelines.defs.collections.assets import WEEKLY_RESULTS
from recomamp_pipelines.defs.owners import OWNER
from recomamp_pipelines.defs.resources import RecomampResource

# Relations written by the weekly results asset, besides the results tables.
WRITTEN_BY_WEEKLY_RESULTS = frozenset({"public.report_data_weeks", "public.workflow_executions"})

VIEWS = static_views()
TESTS = data_tests(VIEWS)

AUTOMATION = (
    dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())
    | dg.AutomationCondition.code_version_changed()
).with_label("after upstream updates or a changed view file")


def view_key(name: str) -> dg.AssetKey:
    return dg.AssetKey([ANALYTICS_SCHEMA, name])


def _deps(view: CompiledView) -> list[dg.AssetKey]:
    deps = [view_key(name) for name in sorted(view.reads)]
    if view.reads_results or view.sources & WRITTEN_BY_WEEKLY_RESULTS:
        deps.append(WEEKLY_RESULTS)
    return deps


def _spec(view: CompiledView) -> dg.AssetSpec:
    return dg.AssetSpec(
        view_key(view.name),
        deps=_deps(view),
        description=view.description,
        owners=[OWNER],
        group_name=f"analytics_{view.file.layer}",
        kinds={"postgres", "sql"},
        code_version=view.source_checksum[:16],
        automation_condition=AUTOMATION,
        metadata={
            "relation": f"{ANALYTICS_SCHEMA}.{view.name}",
            "file": f"dbt_like_views/{view.file.label}",
            "materialized": view.materialized,
            "sources": sorted(view.sources),
        },
    )


CHECK_SPECS = [
    dg.AssetCheckSpec(
        test.rule,
        asset=view_key(test.view),
        description=test.description,
        blocking=False,
    )
    for test in TESTS
]


def _column_schema(conn: psycopg.Connection, name: str) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=column, type=column_type)
            for column, column_type in view_columns(conn, name)
        ]
    )


@dg.multi_asset(
    specs=[_spec(view) for view in VIEWS],
    check_specs=CHECK_SPECS,
    can_subset=True,
    name="analytics_views",
)
def analytics_views(
    context: AssetExecutionContext, recomamp: RecomampResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Apply the views, refresh the selected stored marts, report rows, columns, checks."""
    selected = {key.path[-1] for key in context.selected_asset_keys}
    with psycopg.connect(recomamp.database_url(), autocommit=True) as conn:
        report = apply_views(conn)
        context.log.info(f"views apply: {report.summary()} in {report.seconds:.2f} s")
        compiled = creation_order(compile_views(conn))
        stale = [
            view.name
            for view in compiled
            if view.materialized and view.name in selected and view.name not in report.created
        ]
        refreshed = {mart.name: mart.seconds for mart in refresh_marts(conn, stale)}
        for view in compiled:
            if view.name not in selected:
                continue
            rows = conn.execute(
                sql.SQL("select count(*) from {}").format(
                    sql.Identifier(ANALYTICS_SCHEMA, view.name)
                )
            ).fetchone()
            metadata: dict[str, dg.RawMetadataValue] = {
                "dagster/column_schema": _column_schema(conn, view.name),
                "dagster/row_count": int(rows[0]) if rows else 0,
                "recreated": view.name in report.created,
                "sql_checksum": view.checksum,
            }
            if view.name in refreshed:
                metadata["refresh_seconds"] = round(refreshed[view.name], 3)
            yield dg.MaterializeResult(asset_key=view_key(view.name), metadata=metadata)
        selected_checks = context.selected_asset_check_keys
        for test in TESTS:
            check_key = dg.AssetCheckKey(view_key(test.view), test.rule)
            if check_key not in selected_checks:
                continue
            result = run_data_test(conn, test)
            yield dg.AssetCheckResult(
                asset_key=view_key(test.view),
                check_name=test.rule,
                passed=result.passed,
                severity=(
                    dg.AssetCheckSeverity.WARN if test.is_warning else dg.AssetCheckSeverity.ERROR
                ),
                metadata={
                    "failing_rows": result.failing_rows,
                    "sample": dg.MetadataValue.json(
                        [{k: str(v) for k, v in row.items()} for row in result.sample]
                    ),
                },
            )
