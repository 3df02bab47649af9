"""API keys → project. Every object belongs to the project of the key that made it.

Keys come from `ASSISTANTD_API_KEYS` and from the `api_keys` table (stored as SHA-256 hashes,
made with `assistantd keys create`). With no key configured anywhere the server runs in local
mode: one project, `default`, any or no key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Annotated

from fastapi import Depends, Request

from assistantd.db import api_keys
from assistantd.db.engine import Database
from assistantd.errors import AuthenticationError
from assistantd.services import get_services

LOCAL_PROJECT = "default"
CACHE_SECONDS = 1.0  # a key added or removed in the database takes effect within this time


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Authenticator:
    def __init__(self, env_keys: dict[str, str], db: Database) -> None:
        self._env = [(hash_key(key), project) for key, project in env_keys.items()]
        self._db = db
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._db_key_count: tuple[float, int] = (0.0, 0)

    async def local_mode(self) -> bool:
        return not self._env and await self._count_db_keys() == 0

    async def project_for(self, authorization: str | None) -> str:
        key = _bearer(authorization)
        if await self.local_mode():
            return LOCAL_PROJECT
        if not key:
            raise AuthenticationError(
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
        digest = hash_key(key)
        project = self._match_env(digest) or await self._match_db(digest)
        if project is None:
            raise AuthenticationError(f"Incorrect API key provided: {_redact(key)}.")
        return project

    def _match_env(self, digest: str) -> str | None:
        found = None
        for known, project in self._env:  # every entry is compared: constant time
            if hmac.compare_digest(known, digest):
                found = project
        return found

    async def _match_db(self, digest: str) -> str | None:
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        async with self._db.read() as conn:
            project = await api_keys.project_of(conn, digest)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now, project)
        return project

    async def _count_db_keys(self) -> int:
        now = time.monotonic()
        if now - self._db_key_count[0] < CACHE_SECONDS:
            return self._db_key_count[1]
        async with self._db.read() as conn:
            count = await api_keys.count(conn)
        self._db_key_count = (now, count)
        return count


async def create_key(db: Database, project: str, name: str | None = None) -> str:
    """Make a new key for `project`; only its hash is stored, the key is shown once."""
    key = "sk-asstd-" + secrets.token_urlsafe(32)
    async with db.write() as conn:
        await api_keys.add(conn, hash_key(key), project, name, int(time.time()))
    return key


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _redact(key: str) -> str:
    return key[:3] + "*" * 8 + key[-4:] if len(key) > 8 else "*" * len(key)


async def current_project(request: Request) -> str:
    authenticator = get_services(request).authenticator
    return await authenticator.project_for(request.headers.get("authorization"))


Project = Annotated[str, Depends(current_project)]
