"""The composition root: builds the running parts from :class:`~governance.config.Settings`.

The API's app factory and every CLI command that needs more than an engine open a
:class:`Runtime`; nothing else chooses the outside engines (``adapters/``) or wires the
projections to the ledger. Heavy engines are imported only when asked for (``attestations=True``):
the Sigstore and model-signing libraries take seconds to import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from governance.auth.keys import KeyStore
from governance.config import Settings
from governance.db import create_db_engine, upgrade
from governance.erasure.service import ErasureService
from governance.evidence.service import EvidenceService
from governance.gate.service import GateService
from governance.ledger.checkpoint import NoteSigner, load_or_create_signing_key
from governance.ledger.projections import Projections
from governance.ledger.store import Ledger
from governance.lineage.ingest import LineageIngest
from governance.lineage.projection import LineageProjection
from governance.lineage.queries import LineageQueries
from governance.metrics import Metrics
from governance.reports_index.service import ReportIndex
from governance.sql import Dialect

if TYPE_CHECKING:
    from governance.attestations.service import AttestationService
    from governance.attestations.trust import TrustConfig
    from governance.attestations.verify import ModelSigningBackend, SigstoreBackend, Verifier
    from governance.policy.engine import PolicyEngine
    from governance.policy.service import PolicyService


def build_projections(engine: Engine, write_lock: Any = None) -> Projections:
    """Every projection of the ledger, in the order they are applied to a batch."""
    from governance.attestations.projection import VerdictProjection
    from governance.gate.projection import GateProjection
    from governance.reports_index.projection import ReportProjection

    return Projections(
        engine,
        [LineageProjection(), VerdictProjection(), GateProjection(), ReportProjection()],
        write_lock,
    )


def verification_backends() -> tuple[SigstoreBackend, ModelSigningBackend]:
    """The attestation engines this service uses (the one place that chooses them)."""
    from adapters.model_signing_backend import ModelSigningPythonBackend
    from adapters.sigstore_backend import SigstorePythonBackend

    return SigstorePythonBackend(), ModelSigningPythonBackend()


def load_trust(settings: Settings) -> TrustConfig:
    """The trust configuration file in the settings, or the default one."""
    from governance.attestations.trust import default_trust_config, load_trust_config

    if settings.trust_config is None:
        return default_trust_config()
    return load_trust_config(settings.trust_config)


def build_policy_engine(settings: Settings, engine: str | None = None) -> PolicyEngine:
    """The policy engine ``engine`` (default: the settings' choice), not yet loaded."""
    choice = engine or settings.policy_engine
    if choice == "embedded":
        from adapters.regopy_engine import EmbeddedEngine

        return EmbeddedEngine(workers=settings.policy_workers)
    if choice == "opa":
        from adapters.opa_engine import OpaServerEngine
        from governance.errors import ConfigError

        if not settings.opa_url:
            raise ConfigError("the OPA policy engine needs a server", hint="set GOVERNANCE_OPA_URL")
        return OpaServerEngine(settings.opa_url, settings.opa_token)
    from governance.errors import ConfigError

    raise ConfigError(f"unknown policy engine {choice!r}", hint="embedded or opa")


def build_policy_service(settings: Settings, engine: str | None = None) -> PolicyService:
    """The bundle in force (with the operator's overlay) on the chosen engine, loaded."""
    from governance.policy.bundle import load_bundle
    from governance.policy.service import PolicyService

    bundle = load_bundle(overlay=settings.policy_data)
    return PolicyService(
        build_policy_engine(settings, engine), bundle, settings.policy_timeout_seconds
    )


def build_verifier(trust: TrustConfig) -> Verifier:
    """A verifier with the service's engines and the given trust configuration."""
    from governance.attestations.verify import Verifier

    sigstore, model_signing = verification_backends()
    return Verifier(trust, sigstore=sigstore, model_signing=model_signing)


@dataclass
class Runtime:
    """Everything a request or command needs, opened once and closed once."""

    settings: Settings
    engine: Engine
    signer: NoteSigner
    ledger: Ledger
    keys: KeyStore
    metrics: Metrics
    projections: Projections
    lineage: LineageIngest
    queries: LineageQueries
    evidence: EvidenceService
    erasure: ErasureService
    gate: GateService
    reports: ReportIndex
    attestations: AttestationService | None = field(default=None)

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        migrate: bool = False,
        start: bool = True,
        attestations: bool = False,
    ) -> Runtime:
        """Open the database (applying migrations if asked), load the key, start the writer.

        ``attestations`` enables attestation verification with the configured trust
        configuration and the service's engines.
        """
        if migrate:
            upgrade(settings.database_url)
        engine = create_db_engine(settings.database_url)
        signer = NoteSigner(
            settings.ledger_origin, load_or_create_signing_key(settings.signing_key_file)
        )
        metrics = Metrics()
        ledger = Ledger(
            engine,
            signer,
            max_batch=settings.append_max_batch,
            queue_size=settings.append_queue_size,
            append_timeout=settings.append_timeout_seconds,
            metrics=metrics,
        )
        projections = build_projections(engine, ledger.write_lock)
        ledger.add_hook(projections.on_append)
        queries = LineageQueries(engine)
        runtime = cls(
            settings=settings,
            engine=engine,
            signer=signer,
            ledger=ledger,
            keys=KeyStore(
                engine.raw_connection,
                Dialect.of(engine),
                cache_seconds=settings.api_key_cache_seconds,
            ),
            metrics=metrics,
            projections=projections,
            lineage=LineageIngest(ledger),
            queries=queries,
            evidence=EvidenceService(ledger),
            erasure=ErasureService(ledger, projections),
            gate=GateService(engine, ledger, queries, lambda: build_policy_service(settings)),
            reports=ReportIndex(engine),
        )
        if attestations:
            from governance.attestations.service import AttestationService

            verifier = build_verifier(load_trust(settings))
            runtime.attestations = AttestationService(engine, ledger, verifier)
        if start:
            runtime.start()
        return runtime

    def start(self) -> None:
        """Start the ledger writer and bring the projections up to date with the ledger."""
        self.ledger.start()
        self.projections.catch_up()
        self.projections.start()
        if self.attestations is not None:
            self.attestations.record_trust_config()

    def close(self) -> None:
        """Drain and stop the writer, then close database connections."""
        self.projections.stop()
        self.gate.close()
        self.ledger.close()
        self.engine.dispose()
