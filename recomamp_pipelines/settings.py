"""The configuration table, in one place.

Every setting comes from the environment first, then from the settings file
(`$RECOMAMP_HOME/settings.env`, KEY=VALUE lines), then from its default. The README's
configuration table documents the same names.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from recomamp_pipelines.timekeeping import InvalidTimezoneError, load_timezone

SETTINGS_FILE_NAME = "settings.env"

# Names of the variables, so that every module spells them the same way.
DATABASE_URL = "DATABASE_URL"
RECOMAMP_HOME = "RECOMAMP_HOME"
DAGSTER_HOME = "DAGSTER_HOME"
RECOMAMP_RESULTS_ROOT = "RECOMAMP_RESULTS_ROOT"
RECOMAMP_ENCRYPTION_KEYS = "RECOMAMP_ENCRYPTION_KEYS"
AMC_API_URL = "AMC_API_URL"
AMC_TOKEN_URL = "AMC_TOKEN_URL"  # noqa: S105 - a variable name, not a secret
AMC_CLIENT_ID = "AMC_CLIENT_ID"
AMC_CLIENT_SECRET = "AMC_CLIENT_SECRET"  # noqa: S105 - a variable name, not a secret
RECOMAMP_WEEK_START_DAY = "RECOMAMP_WEEK_START_DAY"
RECOMAMP_AMC_POLL_INITIAL_SECONDS = "RECOMAMP_AMC_POLL_INITIAL_SECONDS"
RECOMAMP_AMC_POLL_MAX_SECONDS = "RECOMAMP_AMC_POLL_MAX_SECONDS"
RECOMAMP_RUN_MONITORING_SECONDS = "RECOMAMP_RUN_MONITORING_SECONDS"
RECOMAMP_AMC_SUBMIT_RATE_LIMIT_WAIT_SECONDS = "RECOMAMP_AMC_SUBMIT_RATE_LIMIT_WAIT_SECONDS"
# Read by Dagster itself, through the production dagster.yaml: the URL of its storage.
DAGSTER_POSTGRES_URL = "DAGSTER_POSTGRES_URL"

RECOMAMP_NIGHTLY_TIMEZONE = "RECOMAMP_NIGHTLY_TIMEZONE"

#: Every variable of the configuration table (the README's, and the deployment files').
SETTING_NAMES = (
    RECOMAMP_HOME,
    DATABASE_URL,
    DAGSTER_HOME,
    RECOMAMP_ENCRYPTION_KEYS,
    RECOMAMP_RESULTS_ROOT,
    AMC_API_URL,
    AMC_TOKEN_URL,
    AMC_CLIENT_ID,
    AMC_CLIENT_SECRET,
    RECOMAMP_WEEK_START_DAY,
    RECOMAMP_NIGHTLY_TIMEZONE,
    RECOMAMP_AMC_POLL_INITIAL_SECONDS,
    RECOMAMP_AMC_POLL_MAX_SECONDS,
    RECOMAMP_AMC_SUBMIT_RATE_LIMIT_WAIT_SECONDS,
    RECOMAMP_RUN_MONITORING_SECONDS,
    DAGSTER_POSTGRES_URL,
)
#: The settings a deployment passes as secrets, never as plain values (URLs carry passwords).
SECRET_SETTING_NAMES = (
    DATABASE_URL,
    DAGSTER_POSTGRES_URL,
    RECOMAMP_ENCRYPTION_KEYS,
    AMC_CLIENT_ID,
    AMC_CLIENT_SECRET,
)

#: How long a submission waits out AMC's 429 answers: AMC's queue is long and a busy account
#: stays throttled for minutes, so a good part of an hour before the week is given up.
SUBMISSION_RATE_LIMIT_WAIT_SECONDS = 2700.0

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class SettingsError(ValueError):
    """A setting has a value the project cannot use."""


@dataclass(frozen=True)
class Settings:
    """Resolved configuration of one process."""

    home: Path
    database_url: str | None
    dagster_home: Path
    #: A directory, or an object-store URI such as s3://bucket/prefix (results/storage.py).
    results_root: Path | str
    encryption_keys: list[str] = field(repr=False)
    amc_api_url: str | None
    amc_token_url: str | None
    amc_client_id: str | None
    amc_client_secret: str | None = field(repr=False)
    week_start_day: int = 0
    amc_poll_initial_seconds: float = 15.0
    amc_poll_max_seconds: float = 60.0
    nightly_timezone: str = "UTC"
    run_monitoring_seconds: float = 120.0
    amc_submit_rate_limit_wait_seconds: float = SUBMISSION_RATE_LIMIT_WAIT_SECONDS

    @property
    def settings_file(self) -> Path:
        return self.home / SETTINGS_FILE_NAME

    @property
    def embedded_data_dir(self) -> Path:
        """Where the embedded PostgreSQL keeps its data when DATABASE_URL is unset."""
        return self.home / "pgdata"

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None


def default_home() -> Path:
    return Path.home() / ".recomamp"


def read_settings_file(path: Path) -> dict[str, str]:
    """Read KEY=VALUE lines; blank lines and lines starting with # are ignored."""
    if not path.exists():
        return {}
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"{path}:{number}: expected KEY=VALUE, got {line[:40]!r}")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def write_settings_file(path: Path, updates: Mapping[str, str]) -> None:
    """Add or replace keys in the settings file, keeping the others; the file is private."""
    values = read_settings_file(path)
    values.update(updates)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f"{key}={value}\n" for key, value in sorted(values.items()))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        "# RecomAMP Pipelines settings; the environment overrides every line.\n" + body,
        encoding="utf-8",
    )
    tmp.chmod(0o600)
    tmp.replace(path)


def parse_week_start_day(value: str) -> int:
    text = value.strip().lower()
    if text.isdigit() and 0 <= int(text) <= 6:
        return int(text)
    if text in WEEKDAYS:
        return WEEKDAYS.index(text)
    raise SettingsError(
        f"{RECOMAMP_WEEK_START_DAY}={value!r}: expected a weekday name (monday..sunday) "
        "or 0-6 with 0 = Monday"
    )


def _positive_seconds(name: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise SettingsError(f"{name}={value!r}: expected a number of seconds greater than 0")
    return seconds


def _results_root(value: str | None, home: Path) -> Path | str:
    if value and "://" in value:
        return value  # an object store's URI, kept as written
    return Path(value or home / "results").expanduser()


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve the settings from the environment, then the settings file, then defaults."""
    env = os.environ if environ is None else environ
    home = Path(env.get(RECOMAMP_HOME) or default_home()).expanduser()
    file_values = read_settings_file(home / SETTINGS_FILE_NAME)

    def get(name: str) -> str | None:
        value = env.get(name)
        if value is None or value == "":
            value = file_values.get(name)
        return value or None

    keys = [key.strip() for key in (get(RECOMAMP_ENCRYPTION_KEYS) or "").split(",") if key.strip()]
    return Settings(
        home=home,
        database_url=get(DATABASE_URL),
        dagster_home=Path(get(DAGSTER_HOME) or home / "dagster_home").expanduser(),
        results_root=_results_root(get(RECOMAMP_RESULTS_ROOT), home),
        encryption_keys=keys,
        amc_api_url=get(AMC_API_URL),
        amc_token_url=get(AMC_TOKEN_URL),
        amc_client_id=get(AMC_CLIENT_ID),
        amc_client_secret=get(AMC_CLIENT_SECRET),
        week_start_day=parse_week_start_day(get(RECOMAMP_WEEK_START_DAY) or "monday"),
        amc_poll_initial_seconds=_positive_seconds(
            RECOMAMP_AMC_POLL_INITIAL_SECONDS, get(RECOMAMP_AMC_POLL_INITIAL_SECONDS) or "15"
        ),
        amc_poll_max_seconds=_positive_seconds(
            RECOMAMP_AMC_POLL_MAX_SECONDS, get(RECOMAMP_AMC_POLL_MAX_SECONDS) or "60"
        ),
        nightly_timezone=_timezone(RECOMAMP_NIGHTLY_TIMEZONE, get(RECOMAMP_NIGHTLY_TIMEZONE)),
        run_monitoring_seconds=_positive_seconds(
            RECOMAMP_RUN_MONITORING_SECONDS, get(RECOMAMP_RUN_MONITORING_SECONDS) or "120"
        ),
        amc_submit_rate_limit_wait_seconds=_positive_seconds(
            RECOMAMP_AMC_SUBMIT_RATE_LIMIT_WAIT_SECONDS,
            get(RECOMAMP_AMC_SUBMIT_RATE_LIMIT_WAIT_SECONDS)
            or str(SUBMISSION_RATE_LIMIT_WAIT_SECONDS),
        ),
    )


def _timezone(name: str, value: str | None) -> str:
    """An IANA time zone name (default UTC); SettingsError naming the variable otherwise."""
    zone = value or "UTC"
    try:
        load_timezone(zone)
    except InvalidTimezoneError as exc:
        raise SettingsError(f"{name}: {exc}") from exc
    return zone
