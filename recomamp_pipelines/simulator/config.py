"""The simulator's configuration: defaults, the settings file (JSON or TOML) and its validation."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recomamp_pipelines.amc_sql.catalogue import PAID_FEATURES
from recomamp_pipelines.simulator.faults import Faults

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_CLIENT_ID = "amzn1.application-oa2-client.recomampsimulator"
DEFAULT_CLIENT_SECRET = "simulator-client-secret"  # noqa: S105 - a documented local default
DEFAULT_REFRESH_TOKEN = "Atzr|simulator-refresh-token"  # noqa: S105 - a documented local default
DEFAULT_INSTANCE_ID = "amcsimulator01"
DEFAULT_ACCOUNT_ID = "ENTITY1AA1AA11AAA1"
DEFAULT_MARKETPLACE_ID = "ATVPDKIKX0DER"
DEFAULT_EXECUTION_SECONDS = 2.0


class SimulatorConfigError(ValueError):
    """A settings file or option the simulator cannot use."""


@dataclass(frozen=True)
class AccountConfig:
    """An AMC account (the entity id sent as Amazon-Advertising-API-AdvertiserId)."""

    account_id: str
    account_name: str = "Simulated AMC account"
    marketplace_id: str = DEFAULT_MARKETPLACE_ID


@dataclass(frozen=True)
class InstanceConfig:
    """An AMC instance; `advertiser_ids` empty means any AdvertiserId header is accepted."""

    instance_id: str
    instance_name: str = ""
    account_id: str = DEFAULT_ACCOUNT_ID
    advertiser_ids: tuple[str, ...] = ()
    #: AMC paid features the instance subscribes to (their tables answer "not found" otherwise).
    paid_features: tuple[str, ...] = ()

    def accepts(self, advertiser_id: str) -> bool:
        return not self.advertiser_ids or advertiser_id in self.advertiser_ids


@dataclass(frozen=True)
class ClockConfig:
    """Where the simulator's clock starts: `now` None means the real time."""

    now: datetime | None = None
    frozen: bool = False


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything a running simulator needs; see the package docstring for each field."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    refresh_tokens: tuple[str, ...] = (DEFAULT_REFRESH_TOKEN,)
    accounts: tuple[AccountConfig, ...] = (AccountConfig(DEFAULT_ACCOUNT_ID),)
    instances: tuple[InstanceConfig, ...] = (InstanceConfig(DEFAULT_INSTANCE_ID),)
    execution_seconds: float = DEFAULT_EXECUTION_SECONDS
    pending_seconds: float = 0.0
    state_dir: Path | None = None
    clock: ClockConfig = field(default_factory=ClockConfig)
    faults: Faults = field(default_factory=Faults)
    seed: int = 20240101
    data_scale: float = 1.0
    history_weeks: int = 60
    cache_max_rows: int = 6_000_000
    token_lifetime_seconds: int = 3600
    download_url_ttl_seconds: int = 300
    max_running_per_instance: int = 10
    max_running_per_account: int = 200
    #: Executions of one workflow over overlapping windows before AMC rejects more (0: no limit).
    max_overlapping_runs: int = 0
    result_file_max_rows: int = 1_000_000
    #: Users a row needs when it shows a MEDIUM or HIGH column (LOW 2, NONE 1, never more).
    aggregation_threshold: int = 100
    data_lag_hours: int = 48
    engine_threads: int = 2
    engine_memory_limit: str = "2GB"

    def instance(self, instance_id: str) -> InstanceConfig | None:
        return next((i for i in self.instances if i.instance_id == instance_id), None)

    def account(self, account_id: str) -> AccountConfig | None:
        return next((a for a in self.accounts if a.account_id == account_id), None)

    def __repr__(self) -> str:
        # The client secret and refresh tokens never reach a log.
        return (
            f"SimulatorConfig(host={self.host!r}, port={self.port}, "
            f"instances={[i.instance_id for i in self.instances]}, state_dir={self.state_dir})"
        )


def parse_instant(value: str, what: str) -> datetime:
    """An ISO timestamp as an aware UTC datetime; naive values are read as UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise SimulatorConfigError(f"{what} {value!r}: expected an ISO timestamp") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def read_settings_file(path: Path) -> dict[str, Any]:
    """The raw mapping of a JSON or TOML settings file (chosen by its suffix, JSON otherwise)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SimulatorConfigError(f"settings file {path}: {exc.strerror}") from exc
    try:
        loaded = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise SimulatorConfigError(f"settings file {path}: {exc}") from exc
    if not isinstance(loaded, dict):
        raise SimulatorConfigError(f"settings file {path}: expected a mapping at the top level")
    return loaded


_SCALARS: dict[str, type] = {
    "host": str,
    "port": int,
    "client_id": str,
    "client_secret": str,
    "execution_seconds": float,
    "pending_seconds": float,
    "seed": int,
    "data_scale": float,
    "history_weeks": int,
    "cache_max_rows": int,
    "token_lifetime_seconds": int,
    "download_url_ttl_seconds": int,
    "max_running_per_instance": int,
    "max_running_per_account": int,
    "max_overlapping_runs": int,
    "result_file_max_rows": int,
    "aggregation_threshold": int,
    "data_lag_hours": int,
    "engine_threads": int,
    "engine_memory_limit": str,
}


def _scalar(key: str, value: Any, kind: type) -> Any:
    if kind is str and isinstance(value, str):
        return value
    if kind in (int, float) and isinstance(value, int | float) and not isinstance(value, bool):
        return kind(value)
    raise SimulatorConfigError(f"setting {key} = {value!r}: expected {kind.__name__}")


def _accounts(raw: Any) -> tuple[AccountConfig, ...]:
    if not isinstance(raw, list) or not raw:
        raise SimulatorConfigError(f"setting accounts = {raw!r}: expected a non-empty list")
    accounts = []
    for item in raw:
        if not isinstance(item, dict) or "account_id" not in item:
            raise SimulatorConfigError(f"account {item!r}: expected a table with account_id")
        accounts.append(
            AccountConfig(
                account_id=str(item["account_id"]),
                account_name=str(item.get("account_name", "Simulated AMC account")),
                marketplace_id=str(item.get("marketplace_id", DEFAULT_MARKETPLACE_ID)),
            )
        )
    return tuple(accounts)


def _instances(raw: Any, default_account: str) -> tuple[InstanceConfig, ...]:
    if not isinstance(raw, list) or not raw:
        raise SimulatorConfigError(f"setting instances = {raw!r}: expected a non-empty list")
    instances = []
    for item in raw:
        if isinstance(item, str):
            instances.append(InstanceConfig(item, account_id=default_account))
            continue
        if not isinstance(item, dict) or "instance_id" not in item:
            raise SimulatorConfigError(f"instance {item!r}: expected a table with instance_id")
        advertisers = item.get("advertiser_ids", [])
        if not isinstance(advertisers, list):
            raise SimulatorConfigError(f"instance {item!r}: advertiser_ids must be a list")
        features = item.get("paid_features", [])
        if not isinstance(features, list):
            raise SimulatorConfigError(f"instance {item!r}: paid_features must be a list")
        unknown = sorted({str(f) for f in features} - set(PAID_FEATURES))
        if unknown:
            raise SimulatorConfigError(
                f"instance {item['instance_id']!r}: unknown paid features {unknown}; "
                f"expected some of {sorted(PAID_FEATURES)}"
            )
        instances.append(
            InstanceConfig(
                instance_id=str(item["instance_id"]),
                instance_name=str(item.get("instance_name", "")),
                account_id=str(item.get("account_id", default_account)),
                advertiser_ids=tuple(str(a) for a in advertisers),
                paid_features=tuple(str(f) for f in features),
            )
        )
    return tuple(instances)


def apply_settings(config: SimulatorConfig, raw: dict[str, Any]) -> SimulatorConfig:
    """`config` overlaid with a settings file's mapping; unknown keys are refused."""
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _SCALARS:
            changes[key] = _scalar(key, value, _SCALARS[key])
        elif key == "refresh_tokens":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise SimulatorConfigError("setting refresh_tokens: expected a list of strings")
            changes[key] = tuple(value)
        elif key == "state_dir":
            changes[key] = Path(str(value))
        elif key == "accounts":
            changes[key] = _accounts(value)
        elif key == "latency_seconds":
            changes["faults"] = replace(
                changes.get("faults", config.faults), latency_seconds=float(value)
            )
        elif key == "clock":
            if not isinstance(value, dict):
                raise SimulatorConfigError(f"setting clock = {value!r}: expected a table")
            now = value.get("now")
            changes[key] = ClockConfig(
                now=parse_instant(str(now), "setting clock.now") if now else None,
                frozen=bool(value.get("frozen", False)),
            )
        elif key == "faults":
            if not isinstance(value, dict):
                raise SimulatorConfigError(f"setting faults = {value!r}: expected a table")
            changes[key] = changes.get("faults", config.faults).updated(value)
        elif key != "instances":
            known = sorted([*_SCALARS, "refresh_tokens", "state_dir", "accounts", "instances"])
            raise SimulatorConfigError(f"unknown setting {key!r}; known settings: {known}")
    updated = replace(config, **changes)
    if "instances" in raw:
        updated = replace(
            updated, instances=_instances(raw["instances"], updated.accounts[0].account_id)
        )
    return updated


def validate(config: SimulatorConfig) -> SimulatorConfig:
    """Refuse configurations the simulator cannot serve."""
    if not config.refresh_tokens:
        raise SimulatorConfigError("at least one refresh token is needed")
    if not config.instances:
        raise SimulatorConfigError("at least one instance is needed")
    account_ids = {a.account_id for a in config.accounts}
    for instance in config.instances:
        if instance.account_id not in account_ids:
            raise SimulatorConfigError(
                f"instance {instance.instance_id}: account {instance.account_id} is not among "
                f"the accounts {sorted(account_ids)}"
            )
    for name in ("execution_seconds", "pending_seconds", "data_scale"):
        if getattr(config, name) < 0:
            raise SimulatorConfigError(f"{name} = {getattr(config, name)}: must be >= 0")
    if config.max_running_per_instance < 1:
        raise SimulatorConfigError("max_running_per_instance must be at least 1")
    if config.max_running_per_account < 1:
        raise SimulatorConfigError("max_running_per_account must be at least 1")
    if config.max_overlapping_runs < 0:
        raise SimulatorConfigError("max_overlapping_runs must be 0 (no limit) or more")
    if config.result_file_max_rows < 1:
        raise SimulatorConfigError("result_file_max_rows must be at least 1")
    return config
