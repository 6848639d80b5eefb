"""The database URL: the forms the service takes, and a clear error for every other."""

from __future__ import annotations

from pathlib import Path

import pytest

from governance.db import DatabaseAddress
from governance.errors import ConfigError


@pytest.mark.parametrize(
    ("url", "backend", "path", "conninfo"),
    [
        ("sqlite:///var/governance.db", "sqlite", Path("var/governance.db"), None),
        ("sqlite:////srv/ledger.db", "sqlite", Path("/srv/ledger.db"), None),
        (
            "postgresql+psycopg://gov:pw@db.internal:5432/ledger?options=-csearch_path%3Dx",
            "postgresql",
            None,
            "postgresql://gov:pw@db.internal:5432/ledger?options=-csearch_path%3Dx",
        ),
    ],
)
def test_supported_urls(url: str, backend: str, path: Path | None, conninfo: str | None) -> None:
    assert DatabaseAddress.from_url(url) == DatabaseAddress(backend, path, conninfo)


@pytest.mark.parametrize(
    ("url", "message", "hint"),
    [
        ("sqlite://", "in-memory", "sqlite:///path"),
        ("sqlite:///:memory:", "in-memory", "sqlite:///path"),
        ("sqlite:///x.db?mode=ro", "options are not supported", "sqlite:///PATH"),
        ("postgresql://u@h/db", "unsupported PostgreSQL driver", "psycopg"),
        ("postgresql+psycopg2://u@h/db", "unsupported PostgreSQL driver", "psycopg"),
        ("mysql://u@h/db", "unsupported database backend 'mysql'", "sqlite:///PATH"),
    ],
)
def test_other_urls_are_configuration_errors(url: str, message: str, hint: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        DatabaseAddress.from_url(url)
    assert caught.value.hint is not None
    assert hint in caught.value.hint
