"""`recomamp amc check`: a user's credentials tried end to end, verdicts recorded."""

from __future__ import annotations

import psycopg
import pytest
from typer.testing import CliRunner

from recomamp_pipelines.cli import app
from recomamp_pipelines.crypto import TokenCipher
from recomamp_pipelines.users import save_user
from tests.fixtures.amc_simulator import AmcSimulator

runner = CliRunner()
EMAIL = "new.user@example.com"


@pytest.fixture
def amc_env(
    recomamp_env: dict[str, str], amc_simulator: AmcSimulator, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    env = amc_simulator.settings_env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return {**recomamp_env, **env}


def add_user(env: dict[str, str], refresh_token: str) -> None:
    cipher = TokenCipher([env["RECOMAMP_ENCRYPTION_KEYS"]])
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        save_user(conn, cipher, email=EMAIL, refresh_token=refresh_token)


def check(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["amc", "check", "--user", EMAIL, "--poll-seconds", "0.05", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def instances(db_url: str) -> dict[str, tuple[str, str | None, bool, str]]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "select i.instance_id, i.health_status, i.health_error, "
            "       i.last_health_check is not null, a.account_id "
            "from amc_instances i join amc_accounts a on a.id = i.account_id "
            "join users u on u.id = i.user_id where u.email = %s",
            (EMAIL,),
        ).fetchall()
    return {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}


def test_a_working_user_gets_every_instance_recorded_healthy(
    amc_env: dict[str, str], amc_simulator: AmcSimulator
) -> None:
    add_user(amc_env, amc_simulator.refresh_tokens[0])
    code, output = check()
    assert code == 0, output
    assert "credentials accepted; 2 instance(s) in 1 account(s)" in output
    for instance_id in amc_simulator.instance_ids:
        assert f"{instance_id}: HEALTHY - test query succeeded" in output
    recorded = instances(amc_env["DATABASE_URL"])
    assert recorded == {
        i: ("HEALTHY", None, True, amc_simulator.advertiser_id) for i in amc_simulator.instance_ids
    }
    assert amc_simulator.refresh_tokens[0] not in output

    # A second check updates the same rows rather than adding any.
    code, _ = check("--instance", amc_simulator.instance_ids[1])
    assert code == 0
    assert len(instances(amc_env["DATABASE_URL"])) == 2


def test_an_unhealthy_instance_gives_its_reason_and_a_nonzero_exit(
    amc_env: dict[str, str], amc_simulator: AmcSimulator
) -> None:
    add_user(amc_env, amc_simulator.refresh_tokens[0])
    amc_simulator.set_faults(fail_next_executions=1)
    target = amc_simulator.instance_ids[0]
    code, output = check("--instance", target)
    assert code == 1
    assert f"{target}: UNHEALTHY - test query ended FAILED" in output
    status, error, checked, _ = instances(amc_env["DATABASE_URL"])[target]
    assert (status, checked) == ("UNHEALTHY", True)
    assert error is not None and "Query execution failed" in error


def test_an_instance_out_of_reach_is_reported(
    amc_env: dict[str, str], amc_simulator: AmcSimulator
) -> None:
    add_user(amc_env, amc_simulator.refresh_tokens[0])
    code, output = check("--instance", "amcnotmine")
    assert code == 1
    assert "amcnotmine: ERROR - instance 'amcnotmine' is not reachable" in output


def test_a_bad_refresh_token_is_a_clear_verdict(
    amc_env: dict[str, str], amc_simulator: AmcSimulator
) -> None:
    add_user(amc_env, "Atzr|not-a-valid-token")
    code, output = check()
    assert code == 2
    assert "CREDENTIALS REFUSED" in output
    assert "invalid_grant" in output and "must sign in with Amazon again" in output
    assert "Traceback" not in output
    assert "Atzr|not-a-valid-token" not in output


def test_a_bad_client_secret_is_a_clear_verdict_and_marks_known_instances(
    amc_env: dict[str, str], amc_simulator: AmcSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(amc_env, amc_simulator.refresh_tokens[0])
    assert check()[0] == 0
    monkeypatch.setenv("AMC_CLIENT_SECRET", "wrong-secret-123")
    code, output = check()
    assert code == 2
    assert "CREDENTIALS REFUSED" in output and "invalid_client" in output
    assert "AMC_CLIENT_SECRET" in output and "wrong-secret-123" not in output
    assert "Traceback" not in output
    recorded = instances(amc_env["DATABASE_URL"])
    assert {status for status, *_ in recorded.values()} == {"ERROR"}
    assert all("invalid_client" in (error or "") for _, error, *_ in recorded.values())


def test_an_unknown_user_is_a_clear_error(amc_env: dict[str, str]) -> None:
    code, output = check()
    assert code == 1
    assert f"no user with email '{EMAIL}'" in output


def test_missing_client_id_is_named(
    amc_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AMC_CLIENT_ID")
    code, output = check()
    assert code == 1
    assert "AMC_CLIENT_ID is not set" in output


def test_check_has_help() -> None:
    result = runner.invoke(app, ["amc", "check", "--help"])
    assert result.exit_code == 0
    assert "--instance" in result.output and "--user" in result.output
