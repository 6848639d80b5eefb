"""Builds the running parts from :class:`~governance.config.Settings`; used by the API and CLI."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from governance.attestations.service import AttestationService
from governance.attestations.trust import TrustConfig, default_trust_config, load_trust_config
from governance.attestations.verify import ModelSigningBackend, SigstoreBackend, Verifier
from governance.auth.keys import KeyStore
from governance.config import Settings
from governance.db import create_db_engine, upgrade
from governance.ledger.checkpoint import NoteSigner, load_or_create_signing_key
from governance.ledger.store import Ledger
from governance.lineage.ingest import LineageIngest
from governance.lineage.projection import LINEAGE_KIND, Projector
from governance.lineage.queries import LineageQueries
from governance.metrics import Metrics


@dataclass
class Runtime:
    """Everything a request or command needs, opened once and closed once."""

    settings: Settings
    engine: Engine
    signer: NoteSigner
    ledger: Ledger
    keys: KeyStore
    metrics: Metrics
    projector: Projector
    lineage: LineageIngest
    queries: LineageQueries
    attestations: AttestationService | None = field(default=None)

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        migrate: bool = False,
        start: bool = True,
        backends: tuple[SigstoreBackend, ModelSigningBackend] | None = None,
    ) -> Runtime:
        """Open the database (applying migrations if asked), load the key, start the writer.

        ``backends`` (the Sigstore and model-signing engines, chosen by the composition root)
        enable attestation verification with the configured trust configuration.
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
            # The lineage tables index OpenLineage events by job, run and dataset.
            unindexed_kinds={LINEAGE_KIND},
        )
        keys = KeyStore(engine, cache_seconds=settings.api_key_cache_seconds)
        projector = Projector(engine, ledger.write_lock)
        ledger.add_hook(projector.on_append)
        runtime = cls(
            settings,
            engine,
            signer,
            ledger,
            keys,
            metrics,
            projector,
            LineageIngest(ledger),
            LineageQueries(engine),
        )
        if backends is not None:
            verifier = Verifier(
                load_trust(settings), sigstore=backends[0], model_signing=backends[1]
            )
            runtime.attestations = AttestationService(engine, ledger, verifier)
        if start:
            runtime.start()
        return runtime

    def start(self) -> None:
        """Start the ledger writer and bring the projection up to date with the ledger."""
        self.ledger.start()
        self.projector.catch_up()
        self.projector.start()
        if self.attestations is not None:
            self.attestations.record_trust_config()

    def close(self) -> None:
        """Drain and stop the writer, then close database connections."""
        self.projector.stop()
        self.ledger.close()
        self.engine.dispose()


def load_trust(settings: Settings) -> TrustConfig:
    """The trust configuration file in the settings, or the default one."""
    if settings.trust_config is None:
        return default_trust_config()
    return load_trust_config(settings.trust_config)
