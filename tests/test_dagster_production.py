"""The production dagster.yaml: storage from the environment, queued and monitored runs."""

from pathlib import Path

import dagster as dg
import pytest
import yaml

from recomamp_pipelines.dagster_home import (
    ProductionInstance,
    prepare_production_home,
    production_dagster_yaml,
)
from recomamp_pipelines.defs.run_launcher import LocalProcessRunLauncher
from recomamp_pipelines.settings import load_settings


def test_production_instance_reads_its_storage_from_the_environment(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECOMAMP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("RECOMAMP_RUN_MONITORING_SECONDS", "7")
    home, storage_url = prepare_production_home(load_settings(), db_url)
    text = (home / "dagster.yaml").read_text()
    # The file names the variable, never the URL or a password.
    assert "postgresql" not in text
    assert yaml.safe_load(text)["storage"] == {
        "postgres": {"postgres_url": {"env": "DAGSTER_POSTGRES_URL"}}
    }
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", storage_url)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert isinstance(instance.run_launcher, LocalProcessRunLauncher)
        assert instance.run_launcher.supports_check_run_worker_health
        queue = instance.get_concurrency_config().run_queue_config
        assert queue is not None
        assert queue.max_concurrent_runs == 4
        limits = [(lim["key"], lim["value"], lim["limit"]) for lim in queue.tag_concurrency_limits]
        assert limits == [("recomamp/kind", "schedule", 2)]
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_max_runtime_seconds == 86400
        assert instance.run_monitoring_poll_interval_seconds == 7
        assert instance.run_retries_enabled
        assert instance.run_retries_max_retries == 2
        assert not instance.run_retries_retry_on_asset_or_op_failure


def test_production_instance_without_storage_variable_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "dagster.yaml").write_text(
        yaml.safe_dump(production_dagster_yaml(ProductionInstance()))
    )
    monkeypatch.delenv("DAGSTER_POSTGRES_URL", raising=False)
    with pytest.raises(dg.DagsterInvalidConfigError, match="DAGSTER_POSTGRES_URL"):
        dg.DagsterInstance.from_config(str(tmp_path))


def test_scheduled_runs_share_cannot_exceed_the_run_limit() -> None:
    with pytest.raises(ValueError, match=r"max_scheduled_runs 5: expected 1\.\.4"):
        ProductionInstance(max_concurrent_runs=4, max_scheduled_runs=5)
