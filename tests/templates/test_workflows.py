"""`recomamp workflows create`: a workflow from a template, for a user's own AMC instance."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg.types.json import Jsonb
from typer.testing import CliRunner

from recomamp_pipelines.cli import app
from recomamp_pipelines.templates.official import official_template
from recomamp_pipelines.templates.params import ParameterError
from recomamp_pipelines.templates.sync import sync
from recomamp_pipelines.templates.workflows import WorkflowOwnerError, create_workflow

runner = CliRunner()


def add_user(conn: psycopg.Connection, email: str, *instance_ids: str) -> uuid.UUID:
    (user_id,) = conn.execute(
        "insert into users (email, timezone) values (%s, 'America/New_York') returning id",
        (email,),
    ).fetchone() or (None,)
    (account_id,) = conn.execute(
        "insert into amc_accounts (account_id, account_name) values (%s, 'Account') "
        "on conflict (account_id) do update set account_name = excluded.account_name "
        "returning id",
        ("ENTITY1AA1AA11AAA1",),
    ).fetchone() or (None,)
    for instance_id in instance_ids:
        conn.execute(
            "insert into amc_instances (instance_id, name, user_id, account_id) "
            "values (%s, %s, %s, %s)",
            (instance_id, instance_id, user_id, account_id),
        )
    assert user_id is not None
    return user_id


@pytest.fixture
def library(db_conn: psycopg.Connection) -> psycopg.Connection:
    sync(db_conn)
    add_user(db_conn, "ana@example.com", "amcana01", "amcshared")
    add_user(db_conn, "bo@example.com", "amcshared")
    return db_conn


def workflows(conn: psycopg.Connection) -> list[tuple[object, ...]]:
    return conn.execute(
        "select w.name, w.sql_query, w.parameters, u.email, i.instance_id, t.template_key "
        "from workflows w join users u on u.id = w.user_id "
        "join amc_instances i on i.id = w.instance_id "
        "join query_templates t on t.id = w.template_id order by w.created_at"
    ).fetchall()


def test_create_saves_the_workflow_with_validated_parameters_and_records_them(
    library: psycopg.Connection, recomamp_env: dict[str, str]
) -> None:
    result = runner.invoke(
        app,
        [
            "workflows", "create",
            "--user", "Ana@Example.com",
            "--instance", "amcshared",
            "--template", "asin_performance",
            "--param", "asins=b07xj8c8f5, B000000001",
            "--param", "asins=B07XJ8C8F5",
            "--param", "ad_channel=dsp",
            "--param", "time_window=last_4_weeks",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Created workflow 'ASIN performance (amcshared)'" in result.output
    template = official_template("asin_performance")
    expected = {
        "time_window": "last_4_weeks",
        "asins": ["B07XJ8C8F5", "B000000001"],
        "ad_channel": "dsp",
        "min_purchases": 0,
    }
    assert workflows(library) == [
        (
            "ASIN performance (amcshared)",
            template.sql,
            expected,
            "ana@example.com",
            "amcshared",
            "asin_performance",
        )
    ]
    recorded = library.execute(
        "select qi.instance_name, qi.saved_parameters, u.email, t.template_key, t.usage_count "
        "from query_template_instances qi join users u on u.id = qi.user_id "
        "join query_templates t on t.id = qi.template_id"
    ).fetchall()
    assert recorded == [
        ("ASIN performance (amcshared)", expected, "ana@example.com", "asin_performance", 1)
    ]


def test_a_bad_parameter_is_refused_and_nothing_is_saved(
    library: psycopg.Connection, recomamp_env: dict[str, str]
) -> None:
    result = runner.invoke(
        app,
        [
            "workflows", "create", "--user", "ana@example.com", "--instance", "amcana01",
            "--template", "new_to_brand_sales", "--param", "min_new_to_brand_share=0.2",
        ],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "parameter 'min_new_to_brand_share': got '0.2'" in result.output
    assert "looks like a fraction" in result.output
    assert workflows(library) == []
    count = library.execute("select count(*) from query_template_instances").fetchone()
    assert count == (0,)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--param", "asin=B000000001"], "has no such parameter; its parameters: time_window"),
        (["--param", "asins"], "expected NAME=VALUE"),
        (["--param", "ad_channel=sponsored"], "expected one of ['all', 'dsp', 'sponsored_ads']"),
    ],
)
def test_parameter_mistakes_are_explained(
    library: psycopg.Connection,
    recomamp_env: dict[str, str],
    arguments: list[str],
    message: str,
) -> None:
    base = ["workflows", "create", "--user", "ana@example.com", "--instance", "amcana01"]
    result = runner.invoke(app, [*base, "--template", "asin_performance", *arguments])
    assert result.exit_code == 1
    assert message in result.output


def test_the_instance_must_belong_to_the_user(
    library: psycopg.Connection, recomamp_env: dict[str, str]
) -> None:
    result = runner.invoke(
        app,
        ["workflows", "create", "--user", "bo@example.com", "--instance", "amcana01",
         "--template", "asin_performance"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "user bo@example.com has no AMC instance 'amcana01' (their instances: amcshared)" in (
        result.output
    )
    result = runner.invoke(
        app,
        ["workflows", "create", "--user", "bo@example.com", "--instance", "amcshared",
         "--template", "frequency_distribution"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert workflows(library)[0][3:5] == ("bo@example.com", "amcshared")


def test_unknown_user_and_template_are_reported(
    library: psycopg.Connection, recomamp_env: dict[str, str]
) -> None:
    result = runner.invoke(
        app,
        ["workflows", "create", "--user", "nobody@example.com", "--instance", "amcana01",
         "--template", "asin_performance"],
    )  # fmt: skip
    assert result.exit_code == 1 and "no user with email 'nobody@example.com'" in result.output
    result = runner.invoke(
        app,
        ["workflows", "create", "--user", "ana@example.com", "--instance", "amcana01",
         "--template", "asin_perf"],
    )  # fmt: skip
    assert result.exit_code == 1 and "no template with key or name 'asin_perf'" in result.output


def add_mapped_template(conn: psycopg.Connection) -> None:
    (template_id,) = conn.execute(
        "insert into query_templates (name, category, sql_template) values "
        "('Sales of top ASINs', 'Custom', %s) returning id",
        (
            "select tracked_asin, sum(product_sales) as product_sales "
            "from amazon_attributed_events_by_conversion_time "
            "where array_contains(CUSTOM_PARAMETER('top_asins'), tracked_asin) group by 1",
        ),
    ).fetchone() or (None,)
    conn.execute(
        "insert into query_template_parameters (template_id, parameter_name, parameter_type, "
        "display_name, validation_rules) values (%s, 'top_asins', 'mapped_from_node', "
        "'Top ASINs', %s)",
        (template_id, Jsonb({"element_type": "asin"})),
    )


def test_mapped_parameters_must_name_a_declared_column_of_the_users_own_workflow(
    library: psycopg.Connection,
) -> None:
    add_mapped_template(library)
    source = create_workflow(
        library,
        user_email="ana@example.com",
        amc_instance_id="amcana01",
        template_name="asin_performance",
        values={},
    )
    ok = create_workflow(
        library,
        user_email="ana@example.com",
        amc_instance_id="amcana01",
        template_name="Sales of top ASINs",
        values={"top_asins": {"workflow_id": str(source.workflow_id), "column": "tracked_asin"}},
    )
    assert ok.parameters == {
        "top_asins": {"workflow_id": str(source.workflow_id), "column": "tracked_asin"}
    }
    with pytest.raises(ParameterError, match=r"one of the output columns of .*'purchasers'"):
        create_workflow(
            library,
            user_email="ana@example.com",
            amc_instance_id="amcana01",
            template_name="Sales of top ASINs",
            values={"top_asins": {"workflow_id": str(source.workflow_id), "column": "asin"}},
        )
    with pytest.raises(ParameterError, match="the id of one of this user's workflows"):
        create_workflow(
            library,
            user_email="bo@example.com",
            amc_instance_id="amcshared",
            template_name="Sales of top ASINs",
            values={
                "top_asins": {"workflow_id": str(source.workflow_id), "column": "tracked_asin"}
            },
        )
    with pytest.raises(ParameterError, match="the id of one of this user's workflows"):
        create_workflow(
            library,
            user_email="ana@example.com",
            amc_instance_id="amcana01",
            template_name="Sales of top ASINs",
            values={"top_asins": {"workflow_id": str(uuid.uuid4()), "column": "tracked_asin"}},
        )
    with pytest.raises(WorkflowOwnerError):
        create_workflow(
            library,
            user_email="ana@example.com",
            amc_instance_id="amcnone",
            template_name="Sales of top ASINs",
            values={},
        )


def test_workflows_help() -> None:
    result = runner.invoke(app, ["workflows", "create", "--help"])
    assert result.exit_code == 0 and "--param" in result.output


def test_a_template_whose_sql_reads_an_undefined_name_cannot_be_saved(
    library: psycopg.Connection, recomamp_env: dict[str, str]
) -> None:
    library.execute(
        "insert into query_templates (name, category, sql_template) values "
        "('Brand impressions', 'Custom', %s)",
        (
            "select campaign, sum(impressions) as impressions from dsp_impressions "
            "where advertiser = {{brand}} and impression_dt >= {{start_date}} group by 1",
        ),
    )
    result = runner.invoke(
        app,
        ["workflows", "create", "--user", "ana@example.com", "--instance", "amcana01",
         "--template", "Brand impressions"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "no value for {{brand}}" in result.output
    assert workflows(library) == []
