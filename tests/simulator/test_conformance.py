"""Conformance: one query per documented AMC SQL construct and per AMC table, over HTTP.

Each construct of Amazon's AMC SQL reference (comments, VALUES lists, UNION ALL, FULL OUTER JOIN,
window, conditional, array, date, string, math and statistical functions, EXTEND_TIME_WINDOW,
CUSTOM_PARAMETER and BUILT_IN_PARAMETER) runs as an ad hoc execution and must succeed with rows;
the functions whose values DuckDB spells in its own way (STR_TO_MAP, NAMED_ROW, TO_VARBINARY and
FROM_VARBINARY, JSON_SERIALIZE) must give the values Amazon's reference describes;
each documented restriction must be refused at create time with AMC's wording and the position
of the offending text; every table of the catalogue must be queryable on an instance that
subscribes to every paid feature.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from recomamp_pipelines.amc_sql.catalogue import PAID_FEATURES, TABLES
from tests.fixtures.amc_simulator import AmcSimulator
from tests.simulator.helpers import Amc

FROZEN_AT = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)
DAY = (datetime(2025, 2, 17), datetime(2025, 2, 18))
PAID_INSTANCE = "amcconformance"

QUERIES = Path(__file__).parent / "conformance"
CONSTRUCTS = {p.stem: p.read_text(encoding="utf-8") for p in (QUERIES / "constructs").glob("*.sql")}
#: What AMC says of each refused query (its .sql file in conformance/refused/).
REFUSED = {
    "limit": "From line 1, column 72 to line 1, column 76: LIMIT is not supported",
    "order_by": (
        "From line 2, column 1 to line 2, column 8: "
        "ORDER BY is only supported inside window functions"
    ),
    "right_join": "From line 2, column 1 to line 2, column 5: RIGHT JOIN is not supported",
    "select_star_table": "From line 1, column 8 to line 1, column 8: SELECT * is not supported",
    "no_aggregate": "AMC queries must aggregate",
    "user_id_output": (
        "From line 1, column 8 to line 1, column 14: user_id cannot appear in the output"
    ),
    "high_literal_filter": (
        "From line 2, column 7 to line 2, column 17: "
        "Column 'postal_code' has a HIGH aggregation threshold"
    ),
    "group_by_trailing_comma": (
        'From line 3, column 11 to line 3, column 11: Encountered "<EOF>" at line 3, column 12: '
        "the GROUP BY list ends with a comma"
    ),
    "unknown_table": "From line 2, column 6 to line 2, column 13: Object 'dsp_view' not found",
    "unknown_column": (
        "From line 1, column 12 to line 1, column 24: Column 'five_sec_view' not found in any table"
    ),
}

#: One query per function and the rows it must give (only the columns named are compared).
FUNCTIONS: dict[str, tuple[str, list[dict[str, str]]]] = {
    "str_to_map": (
        "SELECT STR_TO_MAP('a:1,b:2,c:3', ',', ':')['b'] AS b,\n"
        "  STR_TO_MAP('k=v=w;x', ';', '=')['k'] AS first_split_only,\n"
        "  STR_TO_MAP('k=v=w;x', ';', '=')['x'] AS no_value,\n"
        "  STR_TO_MAP('a:1,b:2')['a'] AS default_delimiters,\n"
        "  CARDINALITY(MAP_KEYS(STR_TO_MAP('p1|p2 | p3', '\\\\s*\\\\|\\\\s*', ':'))) AS keys,\n"
        "  STR_TO_MAP(CONCAT('device=', device_type), ',', '=')['device'] = device_type AS same,\n"
        "  COUNT(DISTINCT user_id) AS users\n"
        "FROM dsp_impressions\n"
        "GROUP BY 1, 2, 3, 4, 5, 6",
        [
            {
                "b": "2",
                "first_split_only": "v=w",
                "no_value": "",
                "default_delimiters": "1",
                "keys": "3",
                "same": "true",
            }
        ],
    ),
    "named_row": (
        "WITH ranked AS (\n"
        "  SELECT user_id, NAMED_ROW('order', ROW_NUMBER() OVER (PARTITION BY user_id\n"
        "    ORDER BY impression_dt), 'campaign_group', campaign) AS campaign_order\n"
        "  FROM dsp_impressions\n"
        "), paths AS (\n"
        "  SELECT user_id, ARRAY_SORT(COLLECT(DISTINCT campaign_order)) AS path\n"
        "  FROM ranked GROUP BY user_id\n"
        ")\n"
        "SELECT IF(paths.path[0].order = 1, 'first step first', 'unordered') AS starts,\n"
        "  NAMED_ROW('a', 1, 'b', 'x').b AS b,\n"
        "  COUNT(DISTINCT user_id) AS users\n"
        "FROM paths\n"
        "GROUP BY 1, 2",
        [{"starts": "first step first", "b": "x"}],
    ),
    "varbinary": (
        "SELECT FROM_VARBINARY(TO_VARBINARY('Hello', 'utf-8'), 'hex') AS hex,\n"
        "  FROM_VARBINARY(TO_VARBINARY('48656C6C6F', 'hex'), 'base64') AS base64,\n"
        "  FROM_VARBINARY(TO_VARBINARY('SGVsbG8=', 'BASE64'), 'utf-8') AS text,\n"
        "  FROM_VARBINARY(TO_VARBINARY(device_type, 'utf-8'), 'utf-8') = device_type AS same,\n"
        "  COUNT(DISTINCT user_id) AS users\n"
        "FROM dsp_impressions\n"
        "GROUP BY 1, 2, 3, 4",
        [{"hex": "48656C6C6F", "base64": "SGVsbG8=", "text": "Hello", "same": "true"}],
    ),
    "json_serialize": (
        "SELECT JSON_SERIALIZE(JSON_EXTRACT('{\"a\": {\"b\": [1, 2]}}', '$.a')) AS a,\n"
        "  JSON_SERIALIZE(ARRAY('x', 'y')) AS list,\n"
        "  JSON_SERIALIZE(NAMED_ROW('n', 1)) AS row_json,\n"
        "  COUNT(DISTINCT user_id) AS users\n"
        "FROM dsp_impressions\n"
        "GROUP BY 1, 2, 3",
        [{"a": '{"b":[1,2]}', "list": '["x","y"]', "row_json": '{"n":1}'}],
    ),
}


@pytest.fixture(scope="module")
def conformance_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AmcSimulator]:
    """One simulator for the whole suite: frozen clock, instant executions, every paid feature."""
    sim = AmcSimulator(
        tmp_path_factory.mktemp("conformance-sim"),
        instance_ids=(),
        clock=FROZEN_AT,
        freeze_clock=True,
        execution_seconds=0,
        settings={
            "instances": [{"instance_id": PAID_INSTANCE, "paid_features": sorted(PAID_FEATURES)}]
        },
    ).start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def amc(conformance_sim: AmcSimulator) -> Iterator[Amc]:
    session = Amc(conformance_sim, PAID_INSTANCE)
    yield session
    session.close()


@pytest.mark.parametrize("construct", sorted(CONSTRUCTS))
def test_documented_construct_runs(amc: Amc, construct: str) -> None:
    rows = amc.result(
        CONSTRUCTS[construct],
        *DAY,
        parameterValues={"campaigns": []},
        workflow_fields={
            "inputParameters": [
                {"name": "campaigns", "dataType": {"type": "ARRAY", "elementDataType": "STRING"}}
            ]
        },
    )
    assert rows, construct
    assert all(v != "" for row in rows for k, v in row.items() if k in ("reach", "users"))


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_function_gives_amazons_values(amc: Amc, function: str) -> None:
    sql, expected = FUNCTIONS[function]
    rows = amc.result(sql, *DAY)
    assert [{k: row[k] for k in want} for row, want in zip(rows, expected, strict=True)] == (
        expected
    ), rows
    assert all(int(row["users"]) > 0 for row in rows)


@pytest.mark.parametrize("restriction", sorted(REFUSED))
def test_documented_restriction_is_refused_where_it_is(amc: Amc, restriction: str) -> None:
    sql = (QUERIES / "refused" / f"{restriction}.sql").read_text(encoding="utf-8")
    expected = REFUSED[restriction]
    response = amc.post(
        "/workflowExecutions",
        {
            "workflow": {"sqlQuery": sql},
            "timeWindowStart": "2025-02-17T00:00:00",
            "timeWindowEnd": "2025-02-18T00:00:00",
        },
    )
    assert response.status_code == 400, response.text
    details = response.json()["details"]
    assert details.startswith("Unable to compile the SQL query.")
    assert expected in details, details


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_table_is_queryable(amc: Amc, table: str) -> None:
    documented = TABLES[table]
    users = ", COUNT(DISTINCT user_id) AS users" if documented.column("user_id") else ""
    sql = f"SELECT COUNT(1) AS rows_read{users} FROM {table}"
    done = amc.wait(amc.run(sql, *DAY, disableAggregationControls=True)["workflowExecutionId"])
    assert done["status"] == "SUCCEEDED", done
    rows = amc.rows(done["workflowExecutionId"])
    assert len(rows) == 1 and int(rows[0]["rows_read"]) > 0, (table, rows)
    described = amc.get(f"/dataSources/{table}").json()
    assert [c["name"] for c in described["columns"]] == [c.name for c in documented.columns]
    assert described["mainEventTimeColumn"] == documented.event_time


def test_tables_agree_on_users_campaigns_and_events(amc: Amc) -> None:
    """The same users and campaigns seen from impressions, views and conversions."""
    rows = amc.result(
        "WITH imp AS (SELECT campaign_id, user_id FROM dsp_impressions GROUP BY 1, 2),\n"
        "views AS (SELECT campaign_id, user_id FROM dsp_views GROUP BY 1, 2),\n"
        "buyers AS (SELECT campaign_id, user_id FROM conversions_with_relevance GROUP BY 1, 2)\n"
        "SELECT imp.campaign_id, COUNT(DISTINCT imp.user_id) AS reach,\n"
        "  COUNT(DISTINCT views.user_id) AS viewers, COUNT(DISTINCT buyers.user_id) AS buyers\n"
        "FROM imp LEFT JOIN views\n"
        "  ON imp.user_id = views.user_id AND imp.campaign_id = views.campaign_id\n"
        "LEFT JOIN buyers ON imp.user_id = buyers.user_id\n"
        "GROUP BY 1",
        *DAY,
    )
    assert rows
    for row in rows:
        reach, viewers = int(row["reach"]), int(row["viewers"])
        # dsp_views holds the measured share of impressions (about 80%), of the same users.
        assert 0.6 * reach < viewers <= reach, row
    assert sum(int(r["buyers"]) for r in rows) > 0


def test_extend_time_window_reads_before_the_window(amc: Amc) -> None:
    plain = amc.result(
        "SELECT COUNT(1) AS n FROM dsp_impressions", *DAY, disableAggregationControls=True
    )
    wider = amc.result(
        "SELECT COUNT(1) AS n FROM TABLE(EXTEND_TIME_WINDOW('dsp_impressions', 'P1D', 'P0D'))",
        *DAY,
        disableAggregationControls=True,
    )
    assert int(wider[0]["n"]) > 1.5 * int(plain[0]["n"])
