"""Load the demo's sample account into the RecomAMP database; safe to run again."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg

from recomamp_pipelines.crypto import TokenCipher
from recomamp_pipelines.templates.sync import sync
from recomamp_pipelines.templates.workflows import create_workflow
from recomamp_pipelines.users import save_user
from recomamp_pipelines.weeks.calendar import week_start


@dataclass(frozen=True)
class SampleUser:
    email: str
    full_name: str
    timezone: str
    refresh_token: str
    account_id: str
    account_name: str
    instance_id: str
    instance_name: str


@dataclass(frozen=True)
class LoadedCollection:
    collection_id: uuid.UUID
    name: str
    start_date: date
    end_date: date
    owner: str


def sample_users(refresh_tokens: Sequence[str], instance_ids: Sequence[str]) -> list[SampleUser]:
    """The two sample users, with the simulator's refresh tokens and instance ids."""
    return [
        SampleUser(
            email="ana.analyst@example.com",
            full_name="Ana Analyst",
            timezone="America/New_York",
            refresh_token=refresh_tokens[0],
            account_id="ENTITY1AA1AA11AAA1",
            account_name="Example Brand US",
            instance_id=instance_ids[0],
            instance_name="Example Brand AMC (US)",
        ),
        SampleUser(
            email="bo.brand@example.com",
            full_name="Bo Brand",
            timezone="Europe/Berlin",
            refresh_token=refresh_tokens[-1],
            account_id="ENTITY2BB2BB22BBB2",
            account_name="Example Brand EU",
            instance_id=instance_ids[-1],
            instance_name="Example Brand AMC (EU)",
        ),
    ]


SAMPLE_WORKFLOWS = (
    ("ana.analyst@example.com", "weekly_dsp_performance", "Weekly DSP performance"),
    ("ana.analyst@example.com", "new_to_brand_sales", "New-to-brand sales"),
    ("bo.brand@example.com", "sponsored_ads_performance", "Sponsored ads by ad product"),
)
SAMPLE_COLLECTIONS = (
    ("DSP weekly 2026", "Weekly DSP performance", 12),
    ("Sponsored ads weekly", "Sponsored ads by ad product", 12),
)


def sample_range(today: date, weeks: int, week_start_day: int) -> tuple[date, date]:
    """`weeks` whole weeks ending at least two weeks before `today`."""
    end = week_start(today, week_start_day) - timedelta(days=15)
    end = week_start(end, week_start_day) + timedelta(days=6)
    return end - timedelta(days=7 * weeks - 1), end


def load_sample_account(
    conn: psycopg.Connection,
    cipher: TokenCipher,
    users: Sequence[SampleUser],
    *,
    today: date,
    week_start_day: int = 0,
    weeks_per_collection: int | None = None,
) -> list[LoadedCollection]:
    """Users, AMC accounts and instances, three workflows and two collections; idempotent."""
    sync(conn)
    instance_of: dict[str, str] = {}
    for user in users:
        saved = save_user(
            conn,
            cipher,
            email=user.email,
            refresh_token=user.refresh_token,
            timezone=user.timezone,
            full_name=user.full_name,
        )
        account = conn.execute(
            "insert into amc_accounts (account_id, account_name) values (%s, %s) "
            "on conflict (account_id) do update set account_name = excluded.account_name "
            "returning id",
            (user.account_id, user.account_name),
        ).fetchone()
        assert account is not None
        conn.execute(
            "insert into amc_instances (instance_id, name, user_id, account_id) "
            "values (%s, %s, %s, %s) on conflict (instance_id, user_id) do nothing",
            (user.instance_id, user.instance_name, saved.user_id, account[0]),
        )
        instance_of[user.email] = user.instance_id
    workflow_ids: dict[str, uuid.UUID] = {}
    for email, template, name in SAMPLE_WORKFLOWS:
        existing = conn.execute(
            "select w.id from workflows as w inner join users as u on u.id = w.user_id "
            "where u.email = %s and w.name = %s",
            (email, name),
        ).fetchone()
        if existing is not None:
            workflow_ids[name] = existing[0]
            continue
        created = create_workflow(
            conn,
            user_email=email,
            amc_instance_id=instance_of[email],
            template_name=template,
            values={},
            name=name,
        )
        workflow_ids[name] = created.workflow_id
    loaded: list[LoadedCollection] = []
    for name, workflow_name, weeks in SAMPLE_COLLECTIONS:
        start, end = sample_range(today, weeks_per_collection or weeks, week_start_day)
        row = conn.execute(
            "select c.id, c.start_date, c.end_date, u.email from report_data_collections as c "
            "inner join users as u on u.id = c.user_id where c.name = %s",
            (name,),
        ).fetchone()
        if row is None:
            row = conn.execute(
                "insert into report_data_collections "
                "(name, workflow_id, instance_id, user_id, start_date, end_date) "
                "select %s, w.id, w.instance_id, w.user_id, %s, %s from workflows as w "
                "where w.id = %s "
                "returning id, start_date, end_date, "
                "(select email from users where id = user_id)",
                (name, start, end, workflow_ids[workflow_name]),
            ).fetchone()
        assert row is not None
        loaded.append(LoadedCollection(row[0], name, row[1], row[2], row[3]))
    return loaded
