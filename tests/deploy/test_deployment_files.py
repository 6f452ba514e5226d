"""The deployment files agree with each other, with the code and with the settings table.

Docker and Kubernetes do not run here: the Dockerfile, docker-compose.yml and the Helm values
are parsed, and every name that must match across them is compared.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from recomamp_pipelines.dagster_home import ProductionInstance, production_dagster_yaml
from recomamp_pipelines.db.connection import DAGSTER_SCHEMA
from recomamp_pipelines.services import (
    DEFAULT_CODE_SERVER_PORT,
    DEFAULT_WEBSERVER_PORT,
    LOCATION_NAME,
)
from recomamp_pipelines.settings import (
    DAGSTER_POSTGRES_URL,
    RECOMAMP_RESULTS_ROOT,
    SECRET_SETTING_NAMES,
    SETTING_NAMES,
)

ROOT = Path(__file__).resolve().parents[2]
DAGSTER_SERVICES = ("code-server", "webserver", "daemon")
#: Read by the AWS SDK inside pyarrow's S3 filesystem, not by the settings table.
OBJECT_STORE_SECRETS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
PROJECT_PREFIXES = ("RECOMAMP_", "AMC_", "DAGSTER_", "DATABASE_")


def _yaml(name: str) -> Any:
    return yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))


def _dockerfile() -> dict[str, list[str]]:
    """Instruction -> its arguments, one entry per instruction (continuation lines joined)."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    joined = re.sub(r"\\\n\s*", " ", text)
    instructions: dict[str, list[str]] = {}
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            instructions.setdefault(keyword, []).append(rest.strip())
    return instructions


def _option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def _env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / "deploy" / "recomamp.env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def _helm_deployment() -> dict[str, Any]:
    deployments = _yaml("deploy/helm/values.yaml")["dagster-user-deployments"]["deployments"]
    assert len(deployments) == 1
    deployment: dict[str, Any] = deployments[0]
    return deployment


def _helm_secrets() -> dict[str, dict[str, str]]:
    text = (ROOT / "deploy" / "helm" / "recomamp-secrets.example.yaml").read_text()
    return {doc["metadata"]["name"]: doc["stringData"] for doc in yaml.safe_load_all(text)}


def _compose_service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = _yaml("docker-compose.yml")["services"][name]
    return service


def test_one_image_name_everywhere() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    image = f"recomamp-pipelines:{version}"
    for name in ("migrate", *DAGSTER_SERVICES):
        assert _compose_service(name)["image"] == image, name
    helm_image = _helm_deployment()["image"]
    assert f"{helm_image['repository']}:{helm_image['tag']}" == image
    assert _compose_service("migrate")["build"] == "."


def test_code_location_port_module_and_name_agree() -> None:
    workspace = _yaml("workspace.yaml")["load_from"][0]["python_module"]
    module, attribute = workspace["module_name"], workspace["attribute"]
    docker_cmd = json.loads(_dockerfile()["CMD"][0])
    compose_cmd = _compose_service("code-server")["command"]
    for command in (docker_cmd, compose_cmd):
        assert command[:3] == ["dagster", "code-server", "start"]
        assert (_option(command, "-m"), _option(command, "-a")) == (module, attribute)
        assert _option(command, "--location-name") == LOCATION_NAME
        assert int(_option(command, "-p")) == DEFAULT_CODE_SERVER_PORT
    assert _dockerfile()["EXPOSE"] == [str(DEFAULT_CODE_SERVER_PORT)]
    assert _compose_service("code-server")["expose"] == [str(DEFAULT_CODE_SERVER_PORT)]
    server = _yaml("deploy/workspace.yaml")["load_from"][0]["grpc_server"]
    assert server == {
        "host": "code-server",
        "port": DEFAULT_CODE_SERVER_PORT,
        "location_name": LOCATION_NAME,
    }
    deployment = _helm_deployment()
    assert deployment["name"] == LOCATION_NAME
    assert deployment["port"] == DEFAULT_CODE_SERVER_PORT
    assert deployment["dagsterApiGrpcArgs"] == ["-m", module, "-a", attribute]


def test_webserver_and_daemon_read_the_containers_workspace() -> None:
    docker = _dockerfile()
    assert "deploy/workspace.yaml /opt/dagster/workspace.yaml" in docker["COPY"]
    webserver = _compose_service("webserver")["command"]
    assert _option(webserver, "-w") == "/opt/dagster/workspace.yaml"
    assert _option(_compose_service("daemon")["command"], "-w") == "/opt/dagster/workspace.yaml"
    port = int(_option(webserver, "-p"))
    assert port == DEFAULT_WEBSERVER_PORT
    assert _compose_service("webserver")["ports"] == [f"{port}:{port}"]


def test_image_installs_the_lock_file_with_hashes() -> None:
    docker = _dockerfile()
    assert "requirements.lock ./" in docker["COPY"]
    assert "pip install --require-hashes -r requirements.lock" in docker["RUN"]
    assert "pip install --no-deps -e ." in docker["RUN"]


def test_image_carries_the_folders_the_package_reads_beside_itself() -> None:
    """The migrations and the analyst views are read from the checkout, not the package."""
    from recomamp_pipelines.analytics.views import VIEWS_DIR
    from recomamp_pipelines.db.migrations import MIGRATIONS_DIR

    copied = _dockerfile()["COPY"]
    for folder in (MIGRATIONS_DIR.parent, VIEWS_DIR):
        assert f"{folder.name} ./{folder.name}" in copied, folder


def test_containers_instance_is_the_production_instance() -> None:
    assert _yaml("deploy/dagster.yaml") == production_dagster_yaml(ProductionInstance())
    assert "deploy/dagster.yaml /opt/dagster/dagster_home/dagster.yaml" in _dockerfile()["COPY"]
    homes = {_compose_service(name)["environment"]["DAGSTER_HOME"] for name in DAGSTER_SERVICES}
    assert homes == {"/opt/dagster/dagster_home"}
    assert "DAGSTER_HOME=/opt/dagster/dagster_home" in _dockerfile()["ENV"][0].replace(" ", "")


def test_every_variable_is_in_the_settings_table() -> None:
    names: set[str] = set(_env_example())
    for service in ("migrate", *DAGSTER_SERVICES):
        names |= set(_compose_service(service)["environment"])
    names |= {item["name"] for item in _helm_deployment()["env"]}
    names |= set(_helm_secrets()["recomamp-secrets"])
    names |= {part.split("=")[0] for part in _dockerfile()["ENV"][0].split() if "=" in part}
    project = {name for name in names if name.startswith(PROJECT_PREFIXES)}
    assert project <= set(SETTING_NAMES), sorted(project - set(SETTING_NAMES))
    assert names - project <= OBJECT_STORE_SECRETS | {"PYTHONUNBUFFERED", "PIP_NO_CACHE_DIR"}


@pytest.mark.parametrize("service", ["migrate", *DAGSTER_SERVICES])
def test_secrets_come_from_the_secret_file_never_as_plain_values(service: str) -> None:
    config = _compose_service(service)
    assert config["env_file"] == "deploy/recomamp.env"
    assert not set(config["environment"]) & (set(SECRET_SETTING_NAMES) | OBJECT_STORE_SECRETS)


def test_secret_files_name_every_secret_setting() -> None:
    example = _env_example()
    assert set(example) == set(SECRET_SETTING_NAMES) | OBJECT_STORE_SECRETS
    # Dagster's storage URL reaches the same database, in Dagster's schema, through psycopg2.
    assert example[DAGSTER_POSTGRES_URL].startswith("postgresql+psycopg2://")
    assert f"search_path%3D{DAGSTER_SCHEMA}" in example[DAGSTER_POSTGRES_URL]
    storage = _yaml("deploy/dagster.yaml")["storage"]["postgres"]["postgres_url"]
    assert storage == {"env": DAGSTER_POSTGRES_URL}

    secrets = _helm_secrets()
    # The chart writes Dagster's storage from `postgresql`; it needs no DAGSTER_POSTGRES_URL.
    assert (
        set(secrets["recomamp-secrets"])
        == (set(SECRET_SETTING_NAMES) - {DAGSTER_POSTGRES_URL}) | OBJECT_STORE_SECRETS
    )
    values = _yaml("deploy/helm/values.yaml")
    assert set(secrets[values["global"]["postgresqlSecretName"]]) == {"postgresql-password"}
    assert _helm_deployment()["envSecrets"] == [{"name": "recomamp-secrets"}]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert launcher["envSecrets"] == [{"name": "recomamp-secrets"}]
    assert not {item["name"] for item in _helm_deployment()["env"]} & set(SECRET_SETTING_NAMES)
    assert values["postgresql"]["postgresqlParams"] == {
        "options": f"-csearch_path={DAGSTER_SCHEMA}"
    }

    compose = _yaml("docker-compose.yml")
    postgres = compose["services"]["postgres"]
    assert postgres["secrets"] == ["postgres_password"]
    assert set(compose["secrets"]) == {"postgres_password"}
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert {"deploy/recomamp.env", "deploy/secrets/"} <= set(ignored)


def test_results_root_is_on_object_storage_in_both_deployments() -> None:
    compose_roots = {
        _compose_service(name)["environment"][RECOMAMP_RESULTS_ROOT] for name in DAGSTER_SERVICES
    }
    helm_roots = {
        item["value"] for item in _helm_deployment()["env"] if item["name"] == RECOMAMP_RESULTS_ROOT
    }
    assert compose_roots == helm_roots
    assert all(root.startswith("s3://") for root in compose_roots)


def test_helm_values_carry_the_production_limits() -> None:
    production: dict[str, Any] = production_dagster_yaml(ProductionInstance())
    runs = production["concurrency"]["runs"]
    daemon = _yaml("deploy/helm/values.yaml")["dagsterDaemon"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert queued["maxConcurrentRuns"] == runs["max_concurrent_runs"]
    assert queued["tagConcurrencyLimits"] == runs["tag_concurrency_limits"]
    monitoring = production["run_monitoring"]
    # The whole block is appended to the chart's dagster.yaml, which renders no max run time.
    assert daemon["runMonitoring"]["enabled"] is False
    appended = _yaml("deploy/helm/values.yaml")["additionalInstanceConfig"]["run_monitoring"]
    assert appended["enabled"] is True
    for key in ("start_timeout_seconds", "cancel_timeout_seconds", "max_runtime_seconds"):
        assert appended[key] == monitoring[key], key
    assert appended["max_runtime_seconds"] == 86400
    assert appended["max_resume_run_attempts"] > 0  # the K8sRunLauncher resumes lost pods
    retries = production["run_retries"]
    assert daemon["runRetries"] == {
        "enabled": True,
        "maxRetries": retries["max_retries"],
        "retryOnAssetOrOpFailure": retries["retry_on_asset_or_op_failure"],
    }
    assert _yaml("deploy/helm/values.yaml")["runLauncher"]["type"] == "K8sRunLauncher"
