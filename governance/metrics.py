"""Prometheus metrics, one registry per running service so tests can build many apps."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    """The service's counters and histograms, registered on their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.appends = Counter(
            "governance_ledger_appends",
            "Entries appended to the ledger, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "governance_ledger_duplicate_appends",
            "Appends answered with an existing entry (idempotent retries).",
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "governance_ledger_batch_size",
            "Entries committed per ledger batch.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096),
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "governance_ledger_commit_seconds",
            "Time to integrate and commit one batch.",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.append_seconds = Histogram(
            "governance_ledger_append_seconds",
            "Time from submitting an append to its receipt.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.requests = Counter(
            "governance_http_requests",
            "HTTP requests answered, by route and status code.",
            ["route", "status"],
            registry=self.registry,
        )
