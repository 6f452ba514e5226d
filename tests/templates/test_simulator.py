"""The official templates on the local AMC simulator, over HTTP, with their default parameters.

The simulator's clock is set to a fixed instant so that its default data (60 weeks of history
before it, same seed) is the same on every run. Every template runs on the weeks where rows
are most at risk of falling under AMC's aggregation threshold: the oldest complete week (its
attribution lookback is cut short by the start of history), the quietest week of the
history, and the newest complete week (in New York time). Each must return rows,
and AMC's reported output columns must be the declared ones, names and types. A template that
reads a paid feature's tables runs on an instance that subscribes to it; on one that does not,
AMC refuses it naming the table.

Every week of the history, not only those, is covered by `test_every_week_of_the_default_data`,
which runs several hundred executions (minutes): set RECOMAMP_TEMPLATE_WEEK_SWEEP=1 to run it.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import cycle

import pytest
from pydantic import SecretStr

from recomamp_pipelines.amc import (
    AmcBadRequest,
    AmcClient,
    AmcConfig,
    InstanceClient,
    PollPolicy,
    RateLimit,
    TimeWindow,
)
from recomamp_pipelines.amc.models import AmcExecution
from recomamp_pipelines.amc_sql.catalogue import PAID_FEATURES
from recomamp_pipelines.simulator.config import SimulatorConfig
from recomamp_pipelines.simulator.data import week_factor
from recomamp_pipelines.templates.official import OfficialTemplate, official_templates
from recomamp_pipelines.templates.render import RenderedQuery, RunWindow, render
from tests.fixtures.amc_simulator import AmcSimulator

# A Wednesday: data is complete until Monday noon, the history starts 60 weeks earlier.
SIMULATOR_NOW = datetime(2025, 2, 5, 12, 0, tzinfo=UTC)
HISTORY_START = datetime(2023, 12, 13)
TEMPLATES = official_templates()
SUBSCRIBED_INSTANCE = "amcsubscribed01"


@dataclass(frozen=True)
class Run:
    template: OfficialTemplate
    window: RunWindow
    overrides: Mapping[str, object] | None = None


@dataclass(frozen=True)
class Outcome:
    run: Run
    execution: AmcExecution
    header: list[str]
    rows: list[list[str]]


@pytest.fixture
def simulator(amc_simulator: AmcSimulator) -> AmcSimulator:
    amc_simulator.set_clock(SIMULATOR_NOW)
    return amc_simulator


def connect(simulator: AmcSimulator) -> AmcClient:
    config = AmcConfig(
        api_url=simulator.base_url,
        token_url=simulator.token_url,
        client_id=simulator.client_id,
        client_secret=SecretStr(simulator.client_secret),
        rate_limit=RateLimit(requests_per_second=500.0, burst=500),
        timeout_seconds=30.0,
    )
    return AmcClient(
        config,
        simulator.refresh_tokens[0],
        advertiser_id=simulator.advertiser_id,
        marketplace_id=simulator.marketplace_id,
        poll_policy=PollPolicy(initial_interval=0.1, max_interval=0.5, max_wait=600),
    )


@pytest.fixture
def instances(simulator: AmcSimulator) -> Iterator[list[InstanceClient]]:
    with connect(simulator) as client:
        yield [client.instance(i) for i in simulator.instance_ids]


@pytest.fixture
def subscribed(amc_simulator_factory: Callable[..., AmcSimulator]) -> Iterator[InstanceClient]:
    """An instance of a simulator of its own that subscribes to every paid feature."""
    simulator = amc_simulator_factory(
        instance_ids=(),
        clock=SIMULATOR_NOW,
        execution_seconds=0.3,
        settings={
            "instances": [
                {"instance_id": SUBSCRIBED_INSTANCE, "paid_features": sorted(PAID_FEATURES)}
            ]
        },
    )
    with connect(simulator) as client:
        yield client.instance(SUBSCRIBED_INSTANCE)


def week(monday: date, zone: str = "UTC") -> RunWindow:
    start = datetime.combine(monday, time.min)
    return RunWindow(start, start + timedelta(days=7), zone)


def complete_weeks() -> list[date]:
    """Monday-started weeks wholly inside the default history and clear of the data lag."""
    first = HISTORY_START.date() + timedelta(days=-HISTORY_START.weekday() % 7)
    horizon = (SIMULATOR_NOW - timedelta(hours=48)).replace(tzinfo=None)
    weeks = []
    monday = first
    while datetime.combine(monday + timedelta(days=7), time.min) <= horizon:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def quietest_week() -> date:
    seed = SimulatorConfig().seed
    return min(complete_weeks(), key=lambda monday: week_factor(seed, monday))


def run_all(
    instances: Sequence[InstanceClient],
    runs: Sequence[Run],
    subscribed: InstanceClient | None = None,
) -> list[Outcome]:
    """Start every run (spread over the instances, or on the subscribed instance when the
    template reads a paid feature's tables), then collect each one's results."""
    started: list[tuple[Run, InstanceClient, RenderedQuery, str]] = []
    for run, instance in zip(runs, cycle(instances), strict=False):
        if run.template.paid_features:
            assert subscribed is not None, (run.template.key, run.template.paid_features)
            instance = subscribed
        rendered = render(
            run.template.sql,
            window=run.window,
            definitions=run.template.parameters,
            overrides=[run.overrides] if run.overrides else [],
            now=SIMULATOR_NOW,
        )
        execution = instance.create_execution(
            TimeWindow(rendered.window.start, rendered.window.end, rendered.window.timezone),
            sql=rendered.sql,
            parameter_values=rendered.parameter_values,
        )
        started.append((run, instance, rendered, execution.workflow_execution_id))
    outcomes = []
    for run, instance, _, execution_id in started:
        execution = instance.poll_until_terminal(execution_id)
        assert execution.status.value == "SUCCESS", (run.template.key, execution.status_reason)
        text = b"".join(instance.iter_result_chunks(execution_id)).decode("utf-8")
        header, *rows = list(csv.reader(io.StringIO(text)))
        outcomes.append(Outcome(run, execution, header, rows))
    return outcomes


def declared(template: OfficialTemplate) -> list[tuple[str, str]]:
    return [(c.name, c.type) for c in template.output_columns]


@pytest.mark.slow
def test_every_template_returns_rows_on_the_weeks_most_at_risk(
    instances: list[InstanceClient], subscribed: InstanceClient
) -> None:
    weeks = complete_weeks()
    mondays = list(dict.fromkeys([weeks[0], quietest_week()]))
    windows = [*(week(monday) for monday in mondays), week(weeks[-1], "America/New_York")]
    runs = [Run(template, window) for window in windows for template in TEMPLATES]
    outcomes = run_all(instances, runs, subscribed)
    assert len(TEMPLATES) >= 24
    for outcome in outcomes:
        where = (outcome.run.template.key, outcome.run.window)
        assert outcome.rows, where
        reported = [(c.name, c.data_type) for c in outcome.execution.output_columns]
        assert reported == declared(outcome.run.template), where
        assert outcome.header == [c.name for c in outcome.run.template.output_columns], where


def test_a_paid_feature_template_needs_the_subscription(instances: list[InstanceClient]) -> None:
    template = next(t for t in TEMPLATES if t.key == "brand_store_engagement")
    assert template.paid_features == ("BRAND_STORE_INSIGHTS",)
    rendered = render(
        template.sql,
        window=week(complete_weeks()[-1]),
        definitions=template.parameters,
        now=SIMULATOR_NOW,
    )
    window = TimeWindow(rendered.window.start, rendered.window.end, rendered.window.timezone)
    with pytest.raises(AmcBadRequest, match="'amazon_brand_store_page_views' not found"):
        instances[0].create_execution(
            window, sql=rendered.sql, parameter_values=rendered.parameter_values
        )


def test_parameters_reach_amc_as_values(instances: list[InstanceClient]) -> None:
    by_key = {t.key: t for t in TEMPLATES}
    last = week(complete_weeks()[-1])
    runs = [
        Run(by_key["asin_performance"], last, {"asins": ["0345391802", "b07pxgqc1q"]}),
        Run(by_key["sponsored_ads_performance"], last, {"ad_product": "sponsored_display"}),
        # '|' and ' ' are ordinary characters; the name filter is a "contains" match.
        Run(by_key["sponsored_ads_performance"], last, {"campaign_name": "SP | Auto"}),
        # A LIKE wildcard typed by the user matches only itself: no campaign has "SP_" in it.
        Run(by_key["sponsored_ads_performance"], last, {"campaign_name": "SP_"}),
        Run(by_key["weekly_dsp_performance"], last, {"split_by_device": True}),
        Run(by_key["frequency_distribution"], last, {"frequency_cap": 3}),
    ]
    asins, display, auto, underscore, devices, capped = run_all(instances, runs)
    assert sorted(row[0] for row in asins.rows) == ["0345391802", "B07PXGQC1Q"]
    assert [row[0] for row in display.rows] == ["sponsored_display"]
    assert [row[0] for row in auto.rows] == ["sponsored_products"]
    assert underscore.rows == []
    assert {row[1] for row in devices.rows} > {"Phone"}
    assert [row[1] for row in capped.rows] == ["1", "2", "3+"]


def test_a_saved_workflow_takes_the_rendered_input_parameters(
    instances: list[InstanceClient],
) -> None:
    template = next(t for t in TEMPLATES if t.key == "time_to_conversion")
    rendered = render(
        template.sql,
        window=week(complete_weeks()[-1]),
        definitions=template.parameters,
        now=SIMULATOR_NOW,
    )
    instance = instances[0]
    workflow_id = f"recomamp-test-{template.key}"
    instance.create_workflow(workflow_id, rendered.sql, input_parameters=rendered.input_parameters)
    try:
        window = TimeWindow(rendered.window.start, rendered.window.end, "UTC")
        defaults = instance.create_execution(window, workflow_id=workflow_id)
        clicks_only = instance.create_execution(
            window, workflow_id=workflow_id, parameter_values={"traffic_types": ["AD_CLICK"]}
        )
        results = []
        for execution in (defaults, clicks_only):
            done = instance.poll_until_terminal(execution.workflow_execution_id)
            assert done.status.value == "SUCCESS", done.status_reason
            text = b"".join(instance.iter_result_chunks(done.workflow_execution_id)).decode()
            results.append(list(csv.DictReader(io.StringIO(text))))
    finally:
        instance.delete_workflow(workflow_id)
    all_purchases = sum(int(row["purchases"]) for row in results[0])
    click_purchases = sum(int(row["purchases"]) for row in results[1])
    assert 0 < click_purchases < all_purchases


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("RECOMAMP_TEMPLATE_WEEK_SWEEP") != "1",
    reason="several hundred executions; set RECOMAMP_TEMPLATE_WEEK_SWEEP=1 to run",
)
def test_every_week_of_the_default_data(
    instances: list[InstanceClient], subscribed: InstanceClient
) -> None:
    runs = [Run(template, week(monday)) for monday in complete_weeks() for template in TEMPLATES]
    empty = [
        (o.run.template.key, o.run.window.start.date())
        for o in run_all(instances, runs, subscribed)
        if not o.rows
    ]
    assert empty == []
