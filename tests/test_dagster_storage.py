"""Dagster's own storage lives in its schema beside ours, on the same server."""

# No postponed annotations: Dagster checks the asset's context annotation when defining it.

from pathlib import Path

import dagster as dg
import psycopg
import pytest

from recomamp_pipelines.dagster_home import prepare_dagster_home
from recomamp_pipelines.db.migrations import upgrade
from recomamp_pipelines.settings import load_settings

weeks = dg.WeeklyPartitionsDefinition(start_date="2024-01-01", day_offset=1)


@dg.asset(partitions_def=weeks)
def probe(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"week": context.partition_key})


def test_postgres_run_storage_works_beside_the_recomamp_schema(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("DATABASE_URL", db_url)
    home = prepare_dagster_home(load_settings(), db_url)
    text = (home / "dagster.yaml").read_text()
    assert "postgresql+psycopg2://" in text

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = dg.materialize([probe], instance=instance, partition_key="2024-01-08")
        assert result.success
        records = instance.get_run_records()
        assert [record.dagster_run.status for record in records] == [dg.DagsterRunStatus.SUCCESS]
        materialized = instance.get_materialized_partitions(probe.key)
        assert materialized == {"2024-01-08"}

    with psycopg.connect(db_url) as conn:
        schemas: dict[str, int] = dict(
            conn.execute(
                "select table_schema, count(*) from information_schema.tables "
                "where table_name = 'alembic_version' group by 1"
            ).fetchall()
        )
    # Dagster's alembic_version lives in its own schema; ours never collides with it.
    assert schemas == {"dagster": 1}
    assert upgrade(db_url) == []
