"""Reading what clients send the way AMC does: lenient about types, strict about meaning."""

from __future__ import annotations

import base64
import json
import re
from typing import Any


class ApiError(Exception):
    """An AMC error answer: status and `details` (the body is `{"code": ..., "details": ...}`)."""

    def __init__(self, status: int, details: str) -> None:
        super().__init__(details)
        self.status = status
        self.details = details

    def body(self) -> dict[str, str]:
        return {"code": str(self.status), "details": self.details}


def bad_request(details: str) -> ApiError:
    return ApiError(400, details)


def not_found(details: str) -> ApiError:
    return ApiError(404, details)


def parse_json_body(raw: bytes, required: bool = True) -> dict[str, Any]:
    """A JSON object body, whatever the Content-Type said (Amazon's samples send none)."""
    if not raw.strip():
        if required:
            raise bad_request("The request body is required and must be a JSON object.")
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise bad_request(f"The request body must be a JSON object, not {type(body).__name__}.")
    return body


def flag(value: Any, name: str, default: bool = False) -> bool:
    """A boolean sent as JSON true/false or as a string ("True", "false", "1")."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise bad_request(f"{name} must be true or false, not {value!r}.")


def integer(value: Any, name: str, default: int, low: int, high: int) -> int:
    """An integer sent as a number or a string ("86400"), within [low, high]."""
    if value is None or value == "":
        return default
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise bad_request(f"{name} must be an integer, not {value!r}.") from exc
    if not low <= number <= high:
        raise bad_request(f"{name} must be between {low} and {high}, not {number}.")
    return number


def query_value(params: dict[str, str], name: str) -> str | None:
    """A query parameter; present but empty means absent."""
    value = params.get(name)
    return value if value not in (None, "") else None


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def decode_token(token: str | None) -> int:
    if token is None:
        return 0
    try:
        padded = token + "=" * (-len(token) % 4)
        kind, _, offset = base64.urlsafe_b64decode(padded).decode().partition(":")
        if kind != "offset":
            raise ValueError(token)
        return int(offset)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"nextToken {token!r} is not a token this API issued.") from exc


def page(
    items: list[Any], params: dict[str, str], default_limit: int = 50
) -> tuple[list[Any], str | None]:
    """One page of `items` by `limit` and `nextToken`, and the token of the next page."""
    limit = integer(query_value(params, "limit"), "limit", default_limit, 1, 1000)
    start = decode_token(query_value(params, "nextToken"))
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    return chunk, encode_token(start + limit) if more else None


_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$")


def identifier(value: Any, name: str) -> str:
    """A client-chosen id (workflowId, scheduleId): letters, digits, `.`, `_`, `-`, 1-256 long."""
    if not isinstance(value, str) or not _ID_PATTERN.match(value):
        raise bad_request(
            f"{name} {value!r} is invalid: use 1 to 256 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return value
