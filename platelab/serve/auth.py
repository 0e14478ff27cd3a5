"""The optional API key: `X-API-Key: KEY` or `Authorization: Bearer KEY` on every /v1 request."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import HTTPException, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

# auto_error=False: a missing key must give our 401, and either header alone is enough.
_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="the server's API key")
_BEARER = HTTPBearer(auto_error=False, description="the server's API key as a bearer token")


def key_matches(given: str | None, expected: str) -> bool:
    # compare_digest: the time taken must not tell how many leading characters were right
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def require_api_key(expected: str) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency that answers 401 unless the request carries the expected key."""

    async def check(
        header_key: Annotated[str | None, Security(_KEY_HEADER)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
    ) -> None:
        if key_matches(header_key, expected) or key_matches(None if bearer is None else bearer.credentials, expected):
            return
        raise HTTPException(401, "missing or wrong API key", headers={"WWW-Authenticate": "Bearer"})

    return check
