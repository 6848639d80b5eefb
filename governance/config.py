"""Settings, read once from ``GOVERNANCE_*`` environment variables by an entry point and passed in.

Nothing else in the service reads ``os.environ``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

KiB = 1024
MiB = 1024 * KiB


class Settings(BaseSettings):
    """Typed service settings; every field maps to ``GOVERNANCE_<FIELD NAME IN CAPITALS>``."""

    model_config = SettingsConfigDict(env_prefix="GOVERNANCE_", extra="ignore", frozen=True)

    database_url: str = Field(
        "sqlite:///./var/governance.db",
        description="SQLAlchemy URL: sqlite:///PATH (embedded default) or postgresql+psycopg://…",
    )
    ledger_origin: str = Field(
        "governance-audit.local/ledger",
        description="Origin line of signed checkpoints, and the name of the checkpoint key.",
    )
    signing_key_file: Path = Field(
        Path("var/keys/checkpoint.key"),
        description="Ed25519 checkpoint signing key (PEM); created with mode 0600 when missing.",
    )
    reports_dir: Path = Field(
        Path("var/reports"),
        description="Where the server keeps the report bundles it generates "
        "(POST /api/v1/reports).",
    )
    trust_config: Path | None = Field(
        None,
        description="Attestation trust configuration (YAML or JSON); default: Sigstore production "
        "and staging roots as shipped with sigstore, and no allowed signers (fail closed).",
    )
    host: str = Field("127.0.0.1", description="Address `governance serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `governance serve` listens on.")
    max_body_bytes: int = Field(32 * MiB, ge=1024, description="Largest request body accepted.")
    max_header_bytes: int = Field(
        64 * KiB,
        ge=1024,
        description="Largest request head (request line and header fields) or trailer section.",
    )
    max_headers: int = Field(
        100, ge=16, description="Most fields in one request head or trailer section."
    )
    header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="How long a client has to send a complete request head, from connecting or "
        "from the previous response.",
    )
    max_idempotency_key_length: int = Field(255, ge=16, le=1024)
    append_queue_size: int = Field(
        20_000, ge=1, description="Appends waiting for the writer before requests get 503."
    )
    append_max_batch: int = Field(
        1_000, ge=1, le=20_000, description="Most entries committed in one batch."
    )
    append_timeout_seconds: float = Field(
        30.0, gt=0, description="How long a request waits for its append to commit."
    )
    api_key_cache_seconds: float = Field(
        5.0, ge=0, description="How long a verified API key is trusted before re-reading it."
    )
    policy_engine: Literal["embedded", "opa"] = Field(
        "embedded",
        description="Policy engine: embedded (rego-cpp, in worker processes) or opa (a server).",
    )
    opa_url: str | None = Field(None, description="The OPA server, with policy_engine=opa.")
    opa_token: str | None = Field(
        None, description="Bearer token for the OPA server, if it needs one."
    )
    policy_data: Path | None = Field(
        None,
        description="YAML or JSON merged into the bundle's data.governance (config, catalog).",
    )
    policy_timeout_seconds: float = Field(
        5.0, gt=0, description="Longest a policy decision may take before it is an error."
    )
    policy_workers: int = Field(
        2, ge=1, le=64, description="Embedded engine worker processes (decisions in parallel)."
    )
    log_level: str = Field("INFO", description="Python logging level name.")
    log_json: bool = Field(True, description="Structured JSON logs (one object per line).")

    @property
    def is_sqlite(self) -> bool:
        """Whether the configured database is SQLite."""
        return self.database_url.startswith("sqlite")
