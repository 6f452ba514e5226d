"""A user's own AMC SQL as a workflow draft: which names it reads, and the type of each."""

from __future__ import annotations

import pytest

from recomamp_pipelines.templates.amc_sql import AmcSqlError
from recomamp_pipelines.templates.workflows import (
    SqlParameterInput,
    SqlParameterType,
    SqlWorkflowError,
    custom_parameter_calls,
    draft_sql_workflow,
)

ASIN_SQL = """\
SELECT
  tracked_asin,
  COUNT(DISTINCT user_id) AS purchasers
FROM amazon_attributed_events_by_conversion_time
WHERE
  ARRAY_CONTAINS(CUSTOM_PARAMETER('asins'), tracked_asin)
  AND conversion_event_dt >= CUSTOM_PARAMETER('since')
  AND conversion_event_dt < CUSTOM_PARAMETER('end_date')
  AND tracked_asin <> CUSTOM_PARAMETER('excluded_asin')
  AND new_to_brand = CUSTOM_PARAMETER('new_only')
GROUP BY 1
HAVING ARRAY_CONTAINS(COLLECT(DISTINCT conversion_event_category), CUSTOM_PARAMETER('category'))
"""


def given(**texts: str) -> dict[str, SqlParameterInput]:
    return {name: SqlParameterInput((text,)) for name, text in texts.items()}


def test_each_call_is_found_with_its_position_and_only_an_array_argument_is_a_list() -> None:
    calls = {(c.name, c.line, c.column, c.list_reader) for c in custom_parameter_calls(ASIN_SQL)}

    assert calls == {
        ("asins", 6, 18, "ARRAY_CONTAINS"),
        ("since", 7, 30, None),
        ("end_date", 8, 29, None),
        ("excluded_asin", 9, 23, None),
        ("new_only", 10, 22, None),
        ("category", 12, 68, None),
    }


def test_types_come_from_the_sql_then_from_the_values() -> None:
    draft = draft_sql_workflow(
        ASIN_SQL,
        given(
            asins="B000000001",
            since="2025-01-06",
            excluded_asin="B000000002",
            new_only="true",
            category="purchase",
        ),
    )

    types = {p.name: (p.type, p.value) for p in draft.parameters}
    assert types == {
        "asins": (SqlParameterType.LIST, ["B000000001"]),
        "since": (SqlParameterType.DATE, "2025-01-06"),
        "excluded_asin": (SqlParameterType.STRING, "B000000002"),
        "new_only": (SqlParameterType.BOOLEAN, True),
        "category": (SqlParameterType.STRING, "purchase"),
    }
    assert draft.output_names == ("tracked_asin", "purchasers")


def test_a_declared_type_wins_over_the_value() -> None:
    inputs = given(asins="B000000001", since="2025-01-06", new_only="true", category="purchase")
    inputs["excluded_asin"] = SqlParameterInput(("1234",), SqlParameterType.STRING)

    draft = draft_sql_workflow(ASIN_SQL, inputs)

    assert draft.saved_parameters["excluded_asin"] == "1234"


def test_refusals_name_the_parameter() -> None:
    with pytest.raises(
        SqlWorkflowError, match=r"no value for CUSTOM_PARAMETER\('since'\) at line 7"
    ):
        draft_sql_workflow(ASIN_SQL, given(asins="B000000001"))
    with pytest.raises(SqlWorkflowError, match="the SQL is empty"):
        draft_sql_workflow("  \n", {})
    with pytest.raises(AmcSqlError, match="From line 1, column 8"):
        draft_sql_workflow("SELECT user_id FROM dsp_impressions GROUP BY 1", {})
