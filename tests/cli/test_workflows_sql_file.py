"""`recomamp workflows create --sql-file`: a user's own AMC SQL saved as a workflow.

The query is written the way Amazon's instructional queries are (block and line comments, a
VALUES list with a column list, several CTEs, a CUSTOM_PARAMETER list read by ARRAY_CONTAINS).
Saved, it runs through a collection backfill and a schedule run like a template's workflow;
every refusal names what is wrong and saves nothing.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from psycopg import sql
from typer.testing import CliRunner, Result

from recomamp_pipelines.cli import app
from recomamp_pipelines.defs.schedules.sensors import workflow_schedules_sensor
from recomamp_pipelines.results.target import results_table
from recomamp_pipelines.sample.account import sample_range
from recomamp_pipelines.scheduling.cadence import daily
from tests.defs.conftest import Pipeline
from tests.scheduling.harness import evaluate, latest_fire_time, launch

runner = CliRunner()

ANA = "ana.analyst@example.com"
CAMPAIGNS = ("Books | DSP | Prospecting", "Kitchen | DSP | Retargeting")

CAMPAIGN_REACH_SQL = """\
/*
  Campaign reach, frequency and attributed purchases.
  campaigns: the campaigns to report on; an empty list means every campaign.
*/
-- Campaign families, named here as Amazon's examples do with a VALUES list
WITH campaign_groups (campaign_family, family_label) AS (
  VALUES
    ('Prospecting', 'Upper funnel'),
    ('Brand Awareness', 'Upper funnel'),
    ('Streaming TV', 'Upper funnel'),
    ('Retargeting', 'Lower funnel')
),
-- DSP exposure per user and campaign
exposed AS (
  SELECT
    campaign,
    campaign_id_string,
    user_id,
    SUM(impressions) AS impressions,
    SUM(total_cost) AS total_cost
  FROM dsp_impressions
  WHERE
    CARDINALITY(CUSTOM_PARAMETER('campaigns')) = 0
    OR ARRAY_CONTAINS(CUSTOM_PARAMETER('campaigns'), campaign)
  GROUP BY 1, 2, 3
),
/* purchases attributed to the same campaigns, by traffic time */
purchases AS (
  SELECT
    campaign_id_string,
    user_id,
    SUM(purchases) AS purchases,
    SUM(product_sales) AS product_sales
  FROM amazon_attributed_events_by_traffic_time
  GROUP BY 1, 2
)
SELECT
  e.campaign,
  e.campaign_id_string,
  g.family_label,
  COUNT(DISTINCT e.user_id) AS reach,
  SUM(e.impressions) AS impressions,
  SUM(e.impressions) / COUNT(DISTINCT e.user_id) AS average_frequency,
  SUM(e.total_cost) / 100000 AS spend_usd,
  SUM(p.purchases) AS purchases,
  SUM(p.product_sales) AS product_sales
FROM exposed AS e
LEFT JOIN purchases AS p
  ON p.campaign_id_string = e.campaign_id_string AND p.user_id = e.user_id
LEFT JOIN campaign_groups AS g
  ON e.campaign LIKE CONCAT('%', g.campaign_family)
GROUP BY 1, 2, 3
HAVING SUM(e.impressions) >= CUSTOM_PARAMETER('min_impressions')
"""
#: Where the SQL reads each parameter first.
CAMPAIGNS_AT = "line 23, column 17"
MIN_IMPRESSIONS_AT = "line 53, column 30"

#: conversions_all is a paid feature's table: the simulator's instances do not subscribe to it.
PAID_TABLE_SQL = """\
-- Purchasers per ASIN, from the paid conversions table
SELECT
  tracked_asin,
  COUNT(DISTINCT user_id) AS purchasers
FROM conversions_all
GROUP BY 1
"""

SYNTAX_ERROR_SQL = """\
-- Spend per campaign, with a parenthesis left open
SELECT
  campaign,
  SUM(total_cost AS spend
FROM dsp_impressions
GROUP BY 1
"""


def write(tmp_path: Path, text: str, name: str = "campaign_reach.sql") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def create(pipeline: Pipeline, *args: str) -> Result:
    instance = pipeline.simulator.instance_id
    return runner.invoke(app, ["workflows", "create", "--user", ANA, "--instance", instance, *args])


def campaign_params(*extra: str) -> list[str]:
    campaigns = ",".join(CAMPAIGNS)
    return ["--param", f"campaigns={campaigns}", "--param", "min_impressions=1000", *extra]


def workflow_count(pipeline: Pipeline) -> int:
    return int(pipeline.query("select count(*) from workflows")[0][0])


def ad_hoc_executions(
    pipeline: Pipeline, since: datetime, *, cancelled: bool = False
) -> list[dict[str, Any]]:
    """Ad hoc executions created on Ana's instance since `since`, as AMC (the simulator) lists
    them: the dry runs. Collection weeks and schedule runs execute saved workflows, never ad
    hoc SQL.
    """
    simulator = pipeline.simulator
    answer = httpx.get(
        simulator.reporting_url("/workflowExecutions"),
        params={
            "minCreationTime": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "timeZone": "UTC",
            "includeCancelled": str(cancelled).lower(),
            "limit": "1000",
        },
        headers=simulator.amc_headers(),
        timeout=30,
    )
    answer.raise_for_status()
    executions = answer.json()["executions"]
    return [e for e in executions if e["workflowId"].startswith("transient_")]


def a_second_ago() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=1)


def created_workflow_id(result: Result) -> uuid.UUID:
    match = re.search(r"Created workflow '.*' \(([0-9a-f-]{36})\)", result.output)
    assert match, result.output
    return uuid.UUID(match.group(1))


def save_campaign_reach(pipeline: Pipeline, tmp_path: Path) -> uuid.UUID:
    path = write(tmp_path, CAMPAIGN_REACH_SQL)
    result = create(pipeline, "--sql-file", str(path), *campaign_params(), "--name", "Reach")
    assert result.exit_code == 0, result.output
    return created_workflow_id(result)


def test_a_documented_query_is_dry_run_saved_and_backfilled_by_a_collection(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    path = write(tmp_path, CAMPAIGN_REACH_SQL)
    since = a_second_ago()

    result = create(pipeline, "--sql-file", str(path), *campaign_params(), "--name", "Reach")

    assert result.exit_code == 0, result.output
    assert "AMC accepted campaign_reach.sql in a dry run" in result.output
    assert f"campaigns: list (read as a list by CARDINALITY at {CAMPAIGNS_AT})" in result.output
    assert "min_impressions: number (from its value)" in result.output
    assert (
        "Output columns: campaign, campaign_id_string, family_label, reach, impressions, "
        "average_frequency, spend_usd, purchases, product_sales"
    ) in result.output
    workflow_id = created_workflow_id(result)
    ((name, template_id, sql_query, parameters),) = pipeline.query(
        "select name, template_id, sql_query, parameters from workflows where id = %s",
        workflow_id,
    )
    assert (name, template_id, sql_query) == ("Reach", None, CAMPAIGN_REACH_SQL)
    assert parameters == {"campaigns": list(CAMPAIGNS), "min_impressions": 1000}
    (dry_run,) = ad_hoc_executions(pipeline, since)
    # A dry run: AMC's verdict, and no output.
    assert dry_run["status"] == "SUCCEEDED" and "outputColumns" not in dry_run
    assert dry_run["parameterValues"] == parameters
    assert dry_run["timeWindowTimeZoneOriginal"] == "America/New_York"

    first, last = sample_range(datetime.now(UTC).date(), 2, 0)
    made = runner.invoke(
        app,
        [
            "collections",
            "create",
            "--user",
            ANA,
            "--workflow",
            str(workflow_id),
            "--from",
            first.isoformat(),
            "--to",
            last.isoformat(),
            "--name",
            "Reach, two weeks",
        ],
    )
    assert made.exit_code == 0, made.output
    collection_id = made.output.split("Created collection ")[1].strip().rstrip(".")

    backfilled = runner.invoke(app, ["backfill", "--collection", collection_id])

    assert backfilled.exit_code == 0, backfilled.output
    assert "2 week(s): 2 submitted" in backfilled.output
    weeks = pipeline.query(
        "select week_start_date, status, result_rows from report_data_weeks "
        "where collection_id = %s order by week_start_date",
        uuid.UUID(collection_id),
    )
    assert [(week, status) for week, status, _ in weeks] == [
        (first, "SUCCESS"),
        (first + timedelta(days=7), "SUCCESS"),
    ]
    query = sql.SQL(
        "select count(*), array_agg(distinct campaign order by campaign), min(impressions) "
        "from {} where source_kind = 'collection'"
    ).format(results_table(workflow_id))
    ((rows, campaigns, least_impressions),) = pipeline.query(query.as_string())
    assert rows == sum(count for _, _, count in weeks) and rows >= 2
    assert campaigns == sorted(CAMPAIGNS)
    assert least_impressions >= 1000


def test_a_schedule_runs_the_saved_sql_with_its_own_override(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    workflow_id = save_campaign_reach(pipeline, tmp_path)
    made = runner.invoke(
        app,
        [
            "schedules",
            "create",
            "--user",
            ANA,
            "--workflow",
            str(workflow_id),
            "--preset",
            "daily",
            "--lookback-days",
            "7",
            "--param",
            "min_impressions=5000",
        ],
    )
    assert made.exit_code == 0, made.output
    match = re.search(r"Created schedule ([0-9a-f-]{36})", made.output)
    assert match, made.output
    schedule_id = uuid.UUID(match.group(1))
    # Due since its latest midnight, as if the daemon had been down since then.
    tick = latest_fire_time(daily("America/New_York"), datetime.now(UTC))
    pipeline.query(
        "update workflow_schedules set next_run_at = %s where id = %s returning id",
        tick,
        schedule_id,
    )

    result = evaluate(workflow_schedules_sensor, pipeline.instance, datetime.now(UTC))
    (run,) = launch(pipeline.instance, result.run_requests or [], "workflow_schedules_sensor")

    assert run.success
    ((status, error, start, end, run_id),) = pipeline.query(
        "select status, error_message, window_start, window_end, id from schedule_runs "
        "where schedule_id = %s",
        schedule_id,
    )
    assert (status, error) == ("SUCCESS", None)
    assert end - start == timedelta(days=7)
    query = sql.SQL(
        "select count(*), min(impressions), min(window_start), max(window_end) from {} "
        "where source_kind = 'schedule' and source_id = %s"
    ).format(results_table(workflow_id))
    ((rows, least_impressions, first, last),) = pipeline.query(query.as_string(), run_id)
    # The schedule's threshold replaced the workflow's own for this run.
    assert rows >= 1 and least_impressions >= 5000
    assert (first, last) == (start, end)


def test_every_parameter_of_the_sql_needs_a_value(pipeline: Pipeline, tmp_path: Path) -> None:
    path = write(tmp_path, CAMPAIGN_REACH_SQL)
    saved = workflow_count(pipeline)

    result = create(pipeline, "--sql-file", str(path), "--param", f"campaigns={CAMPAIGNS[0]}")

    assert result.exit_code == 1
    assert (
        f"campaign_reach.sql: no value for CUSTOM_PARAMETER('min_impressions') at "
        f"{MIN_IMPRESSIONS_AT}: give it with --param min_impressions=VALUE; nothing saved"
    ) in result.output
    assert workflow_count(pipeline) == saved


def test_a_parameter_the_sql_does_not_read_is_refused(pipeline: Pipeline, tmp_path: Path) -> None:
    path = write(tmp_path, CAMPAIGN_REACH_SQL)

    result = create(pipeline, "--sql-file", str(path), *campaign_params("--param", "max_cost=5"))

    assert result.exit_code == 1
    assert (
        "--param max_cost: the SQL has no CUSTOM_PARAMETER('max_cost'); the parameters it "
        "reads: campaigns, min_impressions"
    ) in result.output


def test_a_name_of_the_runs_window_takes_no_value(pipeline: Pipeline, tmp_path: Path) -> None:
    path = write(tmp_path, CAMPAIGN_REACH_SQL)

    result = create(
        pipeline, "--sql-file", str(path), *campaign_params("--param", "start_date=2025-01-01")
    )

    assert result.exit_code == 1
    assert (
        "--param start_date: CUSTOM_PARAMETER('start_date') takes the start of each run's "
        "window; give it no value"
    ) in result.output


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            ["--param", "campaigns=A", "--param", "min_impressions:number=lots"],
            "parameter 'min_impressions': got 'lots'; expected a finite number",
        ),
        (
            ["--param", "campaigns=A", "--param", "min_impressions:integer=5"],
            "--param 'min_impressions:integer=5': type 'integer' is not one of list, string, "
            "number, date, boolean",
        ),
        (
            ["--param", "campaigns:string=A", "--param", "min_impressions=5"],
            "parameter 'campaigns' is declared string, but CARDINALITY reads it as a list at "
            f"{CAMPAIGNS_AT}; declare it campaigns:list",
        ),
        (
            ["--param", "campaigns=A", "--param", "min_impressions:date=2025-02-30"],
            "parameter 'min_impressions': got '2025-02-30'; expected a date as YYYY-MM-DD",
        ),
        (
            [
                "--param",
                "campaigns=A",
                "--param",
                "min_impressions:number=5",
                "--param",
                "min_impressions=6",
            ],
            "parameter 'min_impressions': got ['5', '6']; expected a single value (given once)",
        ),
    ],
)
def test_values_that_do_not_fit_their_type_are_refused(
    pipeline: Pipeline, tmp_path: Path, params: list[str], message: str
) -> None:
    path = write(tmp_path, CAMPAIGN_REACH_SQL)
    saved = workflow_count(pipeline)

    result = create(pipeline, "--sql-file", str(path), *params)

    assert result.exit_code == 1
    assert message in result.output
    assert workflow_count(pipeline) == saved


def test_declared_types_are_saved_as_their_json_shape(pipeline: Pipeline, tmp_path: Path) -> None:
    path = write(tmp_path, CAMPAIGN_REACH_SQL)

    result = create(
        pipeline,
        "--sql-file",
        str(path),
        "--param",
        f"campaigns:list={CAMPAIGNS[0]}",
        "--param",
        f"campaigns={CAMPAIGNS[1]}",
        "--param",
        "min_impressions:number=2500.5",
    )

    assert result.exit_code == 0, result.output
    assert "campaigns: list (declared)" in result.output
    (parameters,) = pipeline.query(
        "select parameters from workflows where id = %s", created_workflow_id(result)
    )[0]
    assert parameters == {"campaigns": list(CAMPAIGNS), "min_impressions": 2500.5}


def test_sql_that_does_not_compile_is_refused_with_its_line_and_column(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    path = write(tmp_path, SYNTAX_ERROR_SQL, "spend.sql")
    since = a_second_ago()
    # The second before may hold an earlier test's last dry run.
    before = {e["workflowExecutionId"] for e in ad_hoc_executions(pipeline, since)}

    result = create(pipeline, "--sql-file", str(path))

    assert result.exit_code == 1
    assert (
        "spend.sql: Unable to compile the SQL query. From line 4, column 18 to line 4, column 19: "
        'Encountered "AS" at line 4, column 18'
    ) in result.output
    assert "nothing saved" in result.output
    # Refused before AMC was asked.
    after = {e["workflowExecutionId"] for e in ad_hoc_executions(pipeline, since)}
    assert after - before == set()


def test_user_level_output_is_refused_before_amc_is_asked(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    path = write(tmp_path, "SELECT user_id, COUNT(*) AS events\nFROM dsp_impressions\nGROUP BY 1\n")

    result = create(pipeline, "--sql-file", str(path))

    assert result.exit_code == 1
    assert "From line 1, column 8 to line 1, column 14: user_id cannot appear in the output" in (
        result.output
    )


def test_amcs_dry_run_refusal_is_shown_with_its_position_and_nothing_is_saved(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    path = write(tmp_path, PAID_TABLE_SQL, "purchasers.sql")
    saved = workflow_count(pipeline)

    result = create(pipeline, "--sql-file", str(path))

    assert result.exit_code == 1
    assert (
        "purchasers.sql: AMC refused it in a dry run: Unable to compile the SQL query. From "
        "line 5, column 6 to line 5, column 20: Object 'conversions_all' not found; "
        "nothing saved"
    ) in result.output
    assert workflow_count(pipeline) == saved


def test_a_missing_file_is_named(pipeline: Pipeline, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.sql"

    result = create(pipeline, "--sql-file", str(missing))

    assert result.exit_code == 1
    assert f"--sql-file {str(missing)!r}: no such file" in result.output


def test_template_and_sql_file_exclude_each_other(pipeline: Pipeline, tmp_path: Path) -> None:
    path = write(tmp_path, CAMPAIGN_REACH_SQL)

    both = create(pipeline, "--template", "weekly_dsp_performance", "--sql-file", str(path))
    neither = create(pipeline)
    typed = create(pipeline, "--template", "weekly_dsp_performance", "--param", "x:number=1")

    assert both.exit_code == neither.exit_code == typed.exit_code == 1
    assert (
        "give --template or --sql-file, not both (got --template 'weekly_dsp_performance' "
        f"and --sql-file {str(path)!r})"
    ) in both.output
    assert "give --template NAME" in neither.output and "or --sql-file FILE" in neither.output
    assert "a template declares its parameters' types" in typed.output


def test_help_documents_the_sql_file_and_the_types() -> None:
    result = runner.invoke(app, ["workflows", "create", "--help"])

    assert result.exit_code == 0
    assert "--sql-file" in result.output and "NAME:TYPE=VALUE" in result.output


def test_no_verdict_from_amc_in_time_saves_nothing(pipeline: Pipeline, tmp_path: Path) -> None:
    path = write(tmp_path, CAMPAIGN_REACH_SQL)
    saved = workflow_count(pipeline)
    since = a_second_ago()
    pipeline.simulator.set_faults(stuck_pending_next_executions=1)

    result = create(pipeline, "--sql-file", str(path), *campaign_params(), "--wait", "1")

    assert result.exit_code == 4
    assert "campaign_reach.sql: no verdict from AMC's dry run" in result.output
    assert "within 1 s" in result.output and "nothing saved" in result.output
    assert workflow_count(pipeline) == saved
    # The dry run that never ended was cancelled, not left waiting in AMC's queue.
    (dry_run,) = ad_hoc_executions(pipeline, since, cancelled=True)
    assert dry_run["status"] == "CANCELLED"
