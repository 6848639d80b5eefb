"""Creating, listing, revoking and checking API keys.

A key looks like ``gov_<id>_<secret>``; the id is public (it names the key in listings and logs),
the secret is 256 random bits. Only SHA-256 of the whole key is stored: a key is high-entropy, so a
fast hash is enough, and a database dump reveals no usable key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from governance import timefmt
from governance.errors import ConfigError, Forbidden, InputError, NotFound, Unauthenticated
from governance.sql import Dialect

KEY_PREFIX = "gov_"


class Role(StrEnum):
    """What a key may do (DESIGN §8)."""

    INGEST = "ingest"
    GATE = "gate"
    APPROVER = "approver"
    AUDITOR = "auditor"
    STEWARD = "steward"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: the key's public id, its name and its role."""

    key_id: str
    name: str
    role: Role

    def require(self, *roles: Role) -> None:
        """Raise :class:`Forbidden` unless this principal has one of ``roles``."""
        if self.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"this operation needs one of the roles: {allowed}")


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A key as listed: never the secret."""

    key_id: str
    name: str
    role: Role
    created_at: str
    revoked_at: str | None


def _hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def parse_role(value: str) -> Role:
    """The :class:`Role` named ``value``; :class:`InputError` listing the roles otherwise."""
    try:
        return Role(value)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise InputError(f"unknown role {value!r}; choose one of: {names}") from None


_LISTED = "SELECT id, name, role, created_at, revoked_at FROM api_keys"


class KeyStore:
    """API keys in the database, with a short-lived cache of verified keys for the hot path.

    ``connect`` opens a DB-API connection (the engine's pool in the service; a plain
    connection in a short CLI command, which then needs no SQLAlchemy).
    """

    def __init__(
        self, connect: Callable[[], Any], dialect: Dialect, *, cache_seconds: float = 5.0
    ) -> None:
        self._connect = connect
        self._dialect = dialect
        self._cache_seconds = cache_seconds
        self._cache: dict[bytes, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def _run(
        self, statements: list[tuple[str, Mapping[str, Any]]], *, write: bool = False
    ) -> list[Any]:
        """Run ``statements`` in one transaction; the rows of the last one."""
        conn = self._connect()
        try:
            cursor = conn.cursor()
            try:
                if write and not self._dialect.postgres:
                    cursor.execute("BEGIN IMMEDIATE")
                rows: list[Any] = []
                for statement, params in statements:
                    cursor.execute(self._dialect.sql(statement), dict(params))
                    rows = list(cursor.fetchall()) if cursor.description else []
                conn.commit()
                return rows
            except Exception as exc:
                conn.rollback()
                if _schema_missing(exc):
                    raise ConfigError(
                        "the database has no schema yet",
                        hint="run `governance db upgrade` (or start the service once)",
                    ) from None
                raise
            finally:
                cursor.close()
        finally:
            conn.close()

    def create(self, role: str, name: str) -> tuple[KeyInfo, str]:
        """Create a key; returns its metadata and the key itself (shown once, never stored)."""
        checked_role = parse_role(role)
        name = name.strip()
        if not 0 < len(name) <= 200:
            raise InputError("a key name must be 1-200 characters")
        key_id = secrets.token_hex(6)
        key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        created = timefmt.now()
        insert = (
            "INSERT INTO api_keys (id, name, role, key_hash, created_at) "
            "VALUES (:id, :name, :role, :key_hash, :created_at)"
        )
        values = {
            "id": key_id,
            "name": name,
            "role": checked_role.value,
            "key_hash": _hash(key),
            "created_at": created,
        }
        self._run([(insert, values)], write=True)
        return KeyInfo(key_id, name, checked_role, created, None), key

    def list(self) -> list[KeyInfo]:
        """Every key, revoked ones included, oldest first."""
        rows = self._run([(f"{_LISTED} ORDER BY created_at, id", {})])
        return [KeyInfo(r[0], r[1], Role(r[2]), r[3], r[4]) for r in rows]

    def revoke(self, key_id: str) -> KeyInfo:
        """Revoke a key by id; revoking twice is harmless. Cached copies expire within the TTL."""
        rows = self._run(
            [
                (
                    "UPDATE api_keys SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL",
                    {"now": timefmt.now(), "id": key_id},
                ),
                (f"{_LISTED} WHERE id = :id", {"id": key_id}),
            ],
            write=True,
        )
        if not rows:
            raise NotFound(f"no API key with id {key_id!r}")
        with self._lock:
            self._cache.clear()
        row = rows[0]
        return KeyInfo(row[0], row[1], Role(row[2]), row[3], row[4])

    def cached(self, key: str) -> Principal | None:
        """The principal for ``key`` if it was verified within the cache window, else ``None``."""
        with self._lock:
            hit = self._cache.get(_hash(key))
        if hit is not None and time.monotonic() - hit[0] < self._cache_seconds:
            return hit[1]
        return None

    def authenticate(self, key: str) -> Principal:
        """The principal for a presented key; :class:`Unauthenticated` for anything else."""
        if not key.startswith(KEY_PREFIX) or len(key) > 200:
            raise Unauthenticated("invalid API key")
        digest = _hash(key)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < self._cache_seconds:
            return hit[1]
        rows = self._run(
            [
                (
                    "SELECT id, name, role, key_hash FROM api_keys "
                    "WHERE key_hash = :digest AND revoked_at IS NULL",
                    {"digest": digest},
                )
            ]
        )
        row = rows[0] if rows else None
        if row is None or not hmac.compare_digest(bytes(row[3]), digest):
            raise Unauthenticated("invalid API key")
        principal = Principal(row[0], row[1], Role(row[2]))
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, principal)
        return principal


def _schema_missing(exc: Exception) -> bool:
    """Whether ``exc`` says the key table does not exist (migrations were never applied)."""
    return type(exc).__name__ == "UndefinedTable" or "no such table" in str(exc)
