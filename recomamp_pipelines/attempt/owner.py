"""AMC access as a workflow's owner: one client per owner and account, shared by a run.

Clients are made on first need, so that a run that only reuses results needs no key and no
credentials; each saved AMC workflow is created once per instance and run, the other attempts
waiting for it rather than each sending a create that AMC refuses (and spending the rate limit).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from recomamp_pipelines.amc.client import AmcClient, InstanceClient
from recomamp_pipelines.amc.errors import AmcAuthError, AmcBadRequest
from recomamp_pipelines.crypto import TokenCipher
from recomamp_pipelines.settings import Settings
from recomamp_pipelines.templates.render import RenderedQuery


@dataclass(frozen=True)
class AmcOwner:
    """The user an AMC execution runs as, and the AMC instance it runs on."""

    user_id: uuid.UUID
    user_email: str | None
    encrypted_refresh_token: str | None
    amc_account_id: str | None
    amc_instance_id: str | None

    def __repr__(self) -> str:
        return f"AmcOwner({self.user_email}, instance={self.amc_instance_id})"

    @classmethod
    def of(cls, source: OwnedBy) -> AmcOwner:
        """The owner of a collection's or a schedule's workflow, as their context has it."""
        return cls(
            user_id=source.user_id,
            user_email=source.user_email,
            encrypted_refresh_token=source.encrypted_refresh_token,
            amc_account_id=source.amc_account_id,
            amc_instance_id=source.amc_instance_id,
        )


class OwnedBy(Protocol):
    """A context that names its workflow's owner and AMC instance."""

    @property
    def user_id(self) -> uuid.UUID: ...

    @property
    def user_email(self) -> str | None: ...

    @property
    def encrypted_refresh_token(self) -> str | None: ...

    @property
    def amc_account_id(self) -> str | None: ...

    @property
    def amc_instance_id(self) -> str | None: ...


def owner_client(
    settings: Settings,
    *,
    user_email: str | None,
    encrypted_refresh_token: str | None,
    amc_account_id: str | None,
) -> AmcClient:
    """An AMC client acting as a workflow's owner, with the owner's stored refresh token."""
    if not encrypted_refresh_token:
        raise AmcAuthError(
            f"user {user_email} has no stored Amazon refresh token; "
            "set one with `recomamp users add`"
        )
    token = TokenCipher.from_settings(settings).decrypt(
        encrypted_refresh_token, what=f"refresh token of {user_email}"
    )
    return AmcClient.from_settings(settings, token, advertiser_id=amc_account_id)


def default_client_factory(settings: Settings) -> Callable[[AmcOwner], AmcClient]:
    """AMC clients acting as the owner, with the owner's stored refresh token."""

    def make(owner: AmcOwner) -> AmcClient:
        return owner_client(
            settings,
            user_email=owner.user_email,
            encrypted_refresh_token=owner.encrypted_refresh_token,
            amc_account_id=owner.amc_account_id,
        )

    return make


@dataclass
class OwnerClients:
    """The AMC clients of one run, one per owner and account, made on first need."""

    factory: Callable[[AmcOwner], AmcClient]
    _clients: dict[tuple[uuid.UUID, str | None], AmcClient] = field(
        default_factory=dict, init=False, repr=False
    )
    _saved: set[tuple[str, str]] = field(default_factory=set, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _saving: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def instance(self, owner: AmcOwner) -> InstanceClient:
        if owner.amc_instance_id is None:
            raise AmcAuthError(f"{owner!r} has no AMC instance")
        key = (owner.user_id, owner.amc_account_id)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = self.factory(owner)
        return client.instance(owner.amc_instance_id)

    def save_workflow(
        self, instance: InstanceClient, workflow_id: str, rendered: RenderedQuery
    ) -> None:
        """Save the query as AMC workflow `workflow_id` on the instance, once per run."""
        key = (instance.instance_id, workflow_id)
        with self._saving:
            if key in self._saved:
                return
            try:
                instance.create_workflow(
                    workflow_id,
                    rendered.sql,
                    input_parameters=[
                        {"name": p["name"], "dataType": p["dataType"]}
                        for p in rendered.input_parameters
                    ],
                )
            except AmcBadRequest as exc:
                if "already exists" not in str(exc):
                    raise
            self._saved.add(key)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
