from __future__ import annotations

from pathlib import Path

import pytest

from recomamp_pipelines.settings import (
    SettingsError,
    load_settings,
    read_settings_file,
    write_settings_file,
)


def test_environment_wins_over_settings_file(tmp_path: Path) -> None:
    write_settings_file(
        tmp_path / "settings.env",
        {"AMC_API_URL": "http://from-file", "AMC_CLIENT_ID": "file-client"},
    )
    settings = load_settings({"RECOMAMP_HOME": str(tmp_path), "AMC_API_URL": "http://from-env"})
    assert settings.amc_api_url == "http://from-env"
    assert settings.amc_client_id == "file-client"
    assert settings.database_url is None
    assert settings.uses_embedded_database
    assert settings.embedded_data_dir == tmp_path / "pgdata"
    assert settings.dagster_home == tmp_path / "dagster_home"
    assert settings.results_root == tmp_path / "results"


def test_settings_file_is_private_and_keeps_other_keys(tmp_path: Path) -> None:
    path = tmp_path / "settings.env"
    write_settings_file(path, {"A": "1"})
    write_settings_file(path, {"B": "2"})
    assert read_settings_file(path) == {"A": "1", "B": "2"}
    assert path.stat().st_mode & 0o777 == 0o600


def test_encryption_keys_are_split_newest_first(tmp_path: Path) -> None:
    settings = load_settings(
        {"RECOMAMP_HOME": str(tmp_path), "RECOMAMP_ENCRYPTION_KEYS": " new , old "}
    )
    assert settings.encryption_keys == ["new", "old"]
    assert "new" not in repr(settings)


@pytest.mark.parametrize(("value", "expected"), [("monday", 0), ("Sunday", 6), ("2", 2)])
def test_week_start_day(tmp_path: Path, value: str, expected: int) -> None:
    env = {"RECOMAMP_HOME": str(tmp_path), "RECOMAMP_WEEK_START_DAY": value}
    assert load_settings(env).week_start_day == expected


def test_bad_week_start_day_names_the_value(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="'funday'"):
        load_settings({"RECOMAMP_HOME": str(tmp_path), "RECOMAMP_WEEK_START_DAY": "funday"})


def test_malformed_settings_file_line_is_reported(tmp_path: Path) -> None:
    (tmp_path / "settings.env").write_text("JUST_A_WORD\n")
    with pytest.raises(SettingsError, match=r"settings\.env:1: expected KEY=VALUE"):
        load_settings({"RECOMAMP_HOME": str(tmp_path)})


def test_nightly_timezone_comes_from_the_settings_file_too(tmp_path: Path) -> None:
    write_settings_file(tmp_path / "settings.env", {"RECOMAMP_NIGHTLY_TIMEZONE": "Europe/Berlin"})
    assert load_settings({"RECOMAMP_HOME": str(tmp_path)}).nightly_timezone == "Europe/Berlin"
    assert load_settings({"RECOMAMP_HOME": str(tmp_path / "empty")}).nightly_timezone == "UTC"
    with pytest.raises(SettingsError, match="RECOMAMP_NIGHTLY_TIMEZONE: timezone 'Berlin'"):
        load_settings({"RECOMAMP_HOME": str(tmp_path), "RECOMAMP_NIGHTLY_TIMEZONE": "Berlin"})


def test_a_submission_waits_out_a_429_storm_for_45_minutes_unless_configured(
    tmp_path: Path,
) -> None:
    home = {"RECOMAMP_HOME": str(tmp_path)}
    assert load_settings(home).amc_submit_rate_limit_wait_seconds == 2700.0
    configured = {**home, "RECOMAMP_AMC_SUBMIT_RATE_LIMIT_WAIT_SECONDS": "90"}
    assert load_settings(configured).amc_submit_rate_limit_wait_seconds == 90.0
    with pytest.raises(SettingsError, match=r"RECOMAMP_AMC_SUBMIT_RATE_LIMIT_WAIT_SECONDS='-1'"):
        load_settings({**home, "RECOMAMP_AMC_SUBMIT_RATE_LIMIT_WAIT_SECONDS": "-1"})
