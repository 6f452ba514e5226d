"""The analyst views as Dagster assets: lineage, materialization metadata, checks, automation."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest

from recomamp_pipelines.analytics.views import view_files
from recomamp_pipelines.definitions import defs
from recomamp_pipelines.defs.analytics.assets import analytics_views, view_key
from recomamp_pipelines.defs.analytics.reports import COLLECTION_REPORTS, collection_reports
from recomamp_pipelines.defs.collections.assets import WEEKLY_RESULTS
from recomamp_pipelines.defs.collections.partitions import (
    COLLECTIONS_PARTITIONS_NAME,
    WEEK_DIMENSION,
)
from recomamp_pipelines.defs.resources import RecomampResource
from tests.analytics.fixture import seed

VIEW_KEYS = {view_key(view.name) for view in view_files()}


def evaluate(**kwargs: Any) -> Any:
    """Dagster's automation evaluation, on a thread of its own: it runs an event loop, and a
    session's Playwright keeps one running on the test's thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(dg.evaluate_automation_conditions, **kwargs).result()


def test_definitions_load_and_the_graph_shows_the_lineage() -> None:
    dg.Definitions.validate_loadable(defs)
    sensor = defs.resolve_sensor_def("analytics_automation_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    graph = defs.resolve_asset_graph()
    assert set(graph.get_all_asset_keys()) >= VIEW_KEYS
    assert WEEKLY_RESULTS in graph.get(view_key("stg_workflow_results")).parent_keys
    assert graph.get(view_key("collection_weekly_kpis")).parent_keys == {
        view_key("stg_collections"),
        view_key("stg_collection_weeks"),
    }
    # from the weekly AMC results through staging to the marts
    assert view_key("stg_workflow_results") in graph.get(WEEKLY_RESULTS).child_keys
    assert view_key("stg_collection_weeks") in graph.get(WEEKLY_RESULTS).child_keys
    assert view_key("collection_weekly_kpis") in (
        graph.get(view_key("stg_collection_weeks")).child_keys
    )
    kpis = graph.get(view_key("collection_weekly_kpis"))
    assert kpis.code_version is not None
    assert {check.name for check in kpis.check_keys} == {
        "one_row_per_collection_week",
        "totals_match_results",
        "kpis_in_range",
    }


@pytest.fixture
def seeded(recomamp_env: dict[str, str], db_url: str) -> str:
    with psycopg.connect(db_url, autocommit=True) as conn:
        seed(conn)
    return db_url


def test_materializing_the_views_reports_rows_columns_and_passing_checks(seeded: str) -> None:
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [analytics_views], instance=instance, resources={"recomamp": RecomampResource()}
        )
        assert result.success
        event = instance.get_latest_materialization_event(view_key("collection_weekly_kpis"))
        assert event is not None and event.asset_materialization is not None
        metadata = event.asset_materialization.metadata
        assert metadata["dagster/row_count"].value == 6  # 4 + 1 weeks of a, 1 of b
        schema = metadata["dagster/column_schema"].value
        assert isinstance(schema, dg.TableSchema)
        columns = {column.name: column.type for column in schema.columns}
        assert columns["ctr"] == "double precision"
        assert columns["week_start_date"] == "date"
        assert metadata["recreated"].value is True
        evaluations = result.get_asset_check_evaluations()
        assert evaluations, "the marts' checks ran"
        assert all(evaluation.passed for evaluation in evaluations), [
            (e.asset_key, e.check_name, e.metadata) for e in evaluations if not e.passed
        ]
        assert {e.check_name for e in evaluations} >= {"family_rows_match_results"}

        # again: the SQL did not change, the materialized mart is refreshed, not recreated
        again = dg.materialize(
            [analytics_views],
            instance=instance,
            resources={"recomamp": RecomampResource()},
            selection=[view_key("collection_weekly_kpis")],
        )
        assert again.success
        event = instance.get_latest_materialization_event(view_key("collection_weekly_kpis"))
        assert event is not None and event.asset_materialization is not None
        assert event.asset_materialization.metadata["recreated"].value is False
        assert "refresh_seconds" in event.asset_materialization.metadata
        # what the UI shows of the check
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(view_key("collection_weekly_kpis"), "totals_match_results")]
        )
        assert check


def _grid_weeks(count: int) -> list[str]:
    """`count` weeks of the grid, a few weeks back from its newest."""
    grid = defs.resolve_assets_def(WEEKLY_RESULTS).partitions_def
    assert isinstance(grid, dg.MultiPartitionsDefinition)
    keys = grid.get_partitions_def_for_dimension(WEEK_DIMENSION).get_partition_keys()
    return list(keys[-(count + 3) : -3])


def _weeks_done(instance: dg.DagsterInstance, weeks: list[str]) -> None:
    instance.add_dynamic_partitions(COLLECTIONS_PARTITIONS_NAME, ["demo-1"])
    for week in weeks:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                WEEKLY_RESULTS,
                partition=dg.MultiPartitionKey({"collection": "demo-1", "week": week}),
            )
        )


def test_automation_refreshes_the_marts_once_per_run_of_weeks(seeded: str) -> None:
    with dg.instance_for_test() as instance:
        first = evaluate(defs=defs, instance=instance)
        # the views exist from `db upgrade`: nothing to do before anything changes
        assert first.total_requested == 0
        result = dg.materialize(
            [analytics_views, collection_reports],
            instance=instance,
            resources={"recomamp": RecomampResource()},
        )
        assert result.success
        quiet = evaluate(defs=defs, instance=instance, cursor=first.cursor)
        assert quiet.total_requested == 0

        _weeks_done(instance, _grid_weeks(3))
        after = evaluate(defs=defs, instance=instance, cursor=quiet.cursor)
        kpis = view_key("collection_weekly_kpis")
        assert after.get_num_requested(kpis) == 1  # three weeks, one refresh
        assert after.get_num_requested(view_key("stg_collection_weeks")) == 1
        assert after.get_num_requested(view_key("stg_workflow_schedules")) == 0
        assert after.get_num_requested(WEEKLY_RESULTS) == 0
        assert after.get_num_requested(COLLECTION_REPORTS) == 1

        settled = evaluate(defs=defs, instance=instance, cursor=after.cursor)
        assert settled.get_num_requested(kpis) == 0


def test_the_marts_wait_while_weeks_are_in_progress(seeded: Any) -> None:
    with dg.instance_for_test() as instance:
        first = evaluate(defs=defs, instance=instance)
        dg.materialize(
            [analytics_views, collection_reports],
            instance=instance,
            resources={"recomamp": RecomampResource()},
        )
        quiet = evaluate(defs=defs, instance=instance, cursor=first.cursor)
        done, further = _grid_weeks(2)
        _weeks_done(instance, [done])
        # a run of further weeks is under way
        run = instance.create_run_for_job(
            defs.resolve_job_def("collection_weeks_job"),
            asset_selection=frozenset({WEEKLY_RESULTS}),
            tags={"dagster/partition": f"demo-1|{further}"},
        )
        instance.handle_run_event(
            run.run_id,
            dg.DagsterEvent(
                event_type_value="PIPELINE_START",
                job_name=run.job_name,
                message="started",
            ),
        )
        waiting = evaluate(defs=defs, instance=instance, cursor=quiet.cursor)
        assert waiting.get_num_requested(view_key("collection_weekly_kpis")) == 0
        # the run ends: the marts are refreshed once, for every week of it
        instance.handle_run_event(
            run.run_id,
            dg.DagsterEvent(
                event_type_value="PIPELINE_SUCCESS",
                job_name=run.job_name,
                message="finished",
            ),
        )
        done = evaluate(defs=defs, instance=instance, cursor=waiting.cursor)
        assert done.get_num_requested(view_key("collection_weekly_kpis")) == 1


def test_the_reports_asset_writes_snapshots_and_links_each_page(
    seeded: str, recomamp_env: dict[str, str]
) -> None:
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [analytics_views, collection_reports],
            instance=instance,
            resources={"recomamp": RecomampResource()},
        )
        assert result.success
        event = instance.get_latest_materialization_event(COLLECTION_REPORTS)
        assert event is not None and event.asset_materialization is not None
        metadata = event.asset_materialization.metadata
        assert metadata["reports"].value == 3
        link = metadata["funnel 2024"].value
        assert isinstance(link, str) and link.startswith("file://")
        page = Path(link.removeprefix("file://"))
        assert page.parent == Path(recomamp_env["RECOMAMP_HOME"]) / "reports"
        assert "funnel 2024" in page.read_text(encoding="utf-8")
    with psycopg.connect(seeded) as conn:
        snapshots = conn.execute("select count(*) from collection_report_snapshots").fetchone()
    assert snapshots == (3,)


ASSET_NODE_QUERY = """
query AnalyticsAsset($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    ... on AssetNode {
      dependencyKeys { path }
      assetMaterializations(limit: 1) {
        metadataEntries {
          label
          ... on TableSchemaMetadataEntry { schema { columns { name type } } }
          ... on IntMetadataEntry { intValue }
        }
      }
    }
  }
}
"""


def test_the_ui_shows_the_lineage_and_the_column_schema(seeded: str) -> None:
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

    definitions = Path(__file__).resolve().parents[3] / "recomamp_pipelines" / "definitions.py"
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [analytics_views],
            instance=instance,
            resources={"recomamp": RecomampResource()},
            selection=[view_key("collection_weekly_kpis")],
        )
        assert result.success

        def ask() -> Any:
            with define_out_of_process_context(str(definitions), "defs", instance) as context:
                return execute_dagster_graphql(
                    context,
                    ASSET_NODE_QUERY,
                    variables={"assetKey": {"path": ["analytics", "collection_weekly_kpis"]}},
                )

        # on a thread of its own, as for `evaluate`: GraphQL execution runs an event loop
        with ThreadPoolExecutor(max_workers=1) as pool:
            answer = pool.submit(ask).result()
    node = answer.data["assetNodeOrError"]
    assert sorted(key["path"][-1] for key in node["dependencyKeys"]) == [
        "stg_collection_weeks",
        "stg_collections",
    ]
    entries = {
        entry["label"]: entry for entry in node["assetMaterializations"][0]["metadataEntries"]
    }
    assert entries["dagster/row_count"]["intValue"] == 6
    columns = {c["name"]: c["type"] for c in entries["dagster/column_schema"]["schema"]["columns"]}
    assert columns["roas"] == "double precision"
