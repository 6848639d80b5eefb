"""The gate bench's ledger (see :mod:`bench.gate`): a data platform and one model's pipeline.

Every entry goes through the service's own append path, so the projections hold it as after real
traffic: OpenLineage events through ``LineageIngest.ingest`` (the ``POST /api/v1/lineage``
path, many in flight so the ledger commits them in large batches), steward classifications
through ``LineageIngest.classify``, the attestation through ``AttestationService.submit``,
approvals and the waiver through ``GateService.approve`` and ``waive``. In ledger order:

* OpenLineage events over the last :data:`DAYS` days, in time order:

  - a data platform: the layered DAG of :mod:`bench._lineage_graph`, every run one ``COMPLETE``
    event; a tenth of its sources are personal data (``governance`` facet, EU or AE);
  - the model's pipeline (:data:`SOURCES`, :data:`FEATURES`): six sources in four systems, five
    of them personal (EU or AE), each copied into the lake by its own ingestion job; four
    feature jobs, two of which also read tables of the platform (so the model's upstream
    reaches into the big graph); a weekly training job that writes the model's node (its
    latest version and ``governance`` facet name the model's digest) and reports tests; an
    evaluation job after each training that asserts data quality on the model. Pipeline runs
    send ``START`` and ``COMPLETE``;

* three evidence documents (``EvidenceService.store``): the change record the request refers to,
  the model's DPIA and how far data subjects' requests have been applied;
* steward classifications of the four feature tables and the model (the model's refers to the
  DPIA and the requests document), as a data owner records them (they outrank the facets);
* the attestation service's trust configuration and a verified OpenSSF model signature of the
  model's digest (the ``oms-tiny-key`` fixture: the model is that fixture's directory);
* two approvals of the promotion and one waiver (``iso-a8.8``, no scan yet).

The platform's runs fill the ledger to exactly the number of entries asked for, and its size
(jobs per layer) makes the graph about the number of nodes asked for.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from bench._common import REPO_ROOT, fmt_rate, say
from bench._lineage_graph import (
    JOB_NAMESPACE,
    LAYERS,
    NODES_PER_LAYER_JOB,
    Shape,
    layered_shape,
)
from governance.auth.keys import Role
from governance.gate.request import GateRequest
from governance.ledger.entries import Submitter
from governance.lineage.classification import check_classification
from governance.runtime import Runtime

if TYPE_CHECKING:
    from governance.attestations.verify import Verifier

DAYS = 60
PRODUCER = "https://github.com/apache/airflow/tree/providers-openlineage/2.3.0"
RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
_FACETS = "https://openlineage.io/spec/facets"
_GOVERNANCE = "https://governance-audit.dev/spec/facets/1-0-0/GovernanceDatasetFacet.json"
ML_JOBS = "airflow://ml-platform"
LAKE = "s3://lake"
MODEL_NAMESPACE = "s3://ml-artifacts"
MODEL_NAME = "models/churn"
PURPOSE = "churn-prediction"
TARGET = "production"
#: The signing fixtures lie beside the repository (as for bench/attestations.py).
SIGNING = REPO_ROOT.parent / "shared" / "fixtures" / "signing"
SIGNATURE_PURPOSE = "model-signature"
WAIVED_CONTROL = "iso-a8.8"
#: Events in flight while filling: enough for the ledger's largest batches.
WINDOW = 4_000

EU = {"country": "IE", "region": "eu-west-1"}
AE = {"country": "AE", "region": "me-central-1"}


def _facet(spec: str, **fields: Any) -> dict[str, Any]:
    """An OpenLineage facet: its producer and schema URL, then ``fields``."""
    name = spec.rsplit("/", 1)[-1]
    return {"_producer": PRODUCER, "_schemaURL": f"{_FACETS}/{spec}.json#/$defs/{name}", **fields}


def _governance(classification: dict[str, Any]) -> dict[str, Any]:
    return {
        "_producer": PRODUCER,
        "_schemaURL": f"{_GOVERNANCE}#/$defs/GovernanceDatasetFacet",
        **classification,
    }


def _personal(where: dict[str, str], **more: Any) -> dict[str, Any]:
    """A personal dataset's classification in the ``governance`` facet's form."""
    eu = where is EU
    return {
        "personalData": True,
        **({"lawfulBasis": "contract"} if eu else {"pdplBasis": "consent"}),
        "purposes": [PURPOSE, "customer-retention"],
        "ropaRef": "RoPA-112",
        "dpiaRef": "DPIA-2026-003",
        "location": where,
        "retentionDays": 730,
        "encryptionAtRest": True,
        "jurisdictions": ["EU"] if eu else ["AE"],
        **more,
    }


@dataclass(frozen=True)
class Source:
    """A system of record the model's data comes from, and its lake copy."""

    namespace: str
    name: str
    columns: tuple[str, ...]
    pii: tuple[str, ...]
    classification: dict[str, Any] | None

    @property
    def lake_name(self) -> str:
        return "staging/" + self.name.replace(".", "_")


SOURCES = (
    Source(
        "postgres://crm.eu-west-1:5432", "crm.public.customers",
        ("customer_id", "email", "signup_date", "plan", "country"), ("customer_id", "email"),
        _personal(EU),
    ),
    Source(
        "postgres://crm.eu-west-1:5432", "crm.public.contracts",
        ("contract_id", "customer_id", "started_at", "ends_at", "tier"), ("customer_id",),
        _personal(EU),
    ),
    Source(
        "postgres://billing.eu-west-1:5432", "billing.public.invoices",
        ("invoice_id", "customer_id", "amount", "currency", "issued_at"), ("customer_id",),
        _personal(EU),
    ),
    Source(
        "kafka://events.me-central-1:9092", "web.sessions",
        ("session_id", "customer_id", "started_at", "pages", "device"), ("customer_id",),
        _personal(AE, consentRef="CONSENT-WEB-7"),
    ),
    Source(
        "postgres://app.me-central-1:5432", "app.public.users",
        ("user_id", "customer_id", "phone", "emirate"), ("customer_id", "phone"),
        _personal(AE, consentRef="CONSENT-APP-2"),
    ),
    Source(
        "s3://reference-data", "calendar.holidays",
        ("date", "is_holiday", "region"), (),
        None,
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Feature:
    """A feature table: the lake tables (by source position) and platform tables it reads."""

    name: str
    sources: tuple[int, ...]
    platform_inputs: int
    columns: tuple[str, ...]
    classification: dict[str, Any]


FEATURES = (
    Feature(
        "features/customer_profile", (0, 1), 2,
        ("customer_ref", "tenure_months", "plan", "contract_tier"),
        _personal(EU, pseudonymised=True),
    ),
    Feature(
        "features/billing_monthly", (2,), 1,
        ("customer_ref", "monthly_spend", "late_payments"),
        _personal(EU, pseudonymised=True),
    ),
    Feature(
        "features/web_engagement", (3, 4), 0,
        ("customer_ref", "web_sessions_30d", "app_user"),
        _personal(AE, pseudonymised=True),
    ),
    Feature(
        "features/calendar", (5,), 0,
        ("date", "is_holiday_season"),
        {"personalData": False, "jurisdictions": []},
    ),
)  # fmt: skip

MODEL_CLASSIFICATION = {"personalData": False, "jurisdictions": ["EU", "AE"]}
#: Evidence documents, steward classifications, the trust configuration and the attestation, two
#: approvals and one waiver: the entries that are not OpenLineage events.
OTHER_ENTRIES = 3 + len(FEATURES) + 1 + 2 + 2 + 1


@dataclass
class World:
    """What the bench decides on, and how the ledger was built."""

    request: GateRequest
    entries: int
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------------------ events


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _schema(columns: Sequence[str]) -> dict[str, Any]:
    return _facet(
        "1-1-1/SchemaDatasetFacet", fields=[{"name": c, "type": "varchar"} for c in columns]
    )


def _pii_tags(columns: Sequence[str]) -> dict[str, Any]:
    return _facet(
        "1-0-0/TagsDatasetFacet",
        tags=[{"key": "pii", "value": "true", "field": c, "source": "USER"} for c in columns],
    )


def _owners(team: str) -> dict[str, Any]:
    return _facet("1-0-1/OwnershipDatasetFacet", owners=[{"name": f"team:{team}"}])


def _event(
    kind: str,
    moment: datetime,
    run_id: str,
    job: tuple[str, str],
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    run_facets: dict[str, Any] | None = None,
) -> bytes:
    event = {
        "eventType": kind,
        "eventTime": _time(moment),
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT,
        "run": {"runId": run_id, **({"facets": run_facets} if run_facets else {})},
        "job": {"namespace": job[0], "name": job[1]},
        "inputs": inputs,
        "outputs": outputs,
    }
    return json.dumps(event, separators=(",", ":")).encode()


def _ref(namespace: str, name: str, **facets: Any) -> dict[str, Any]:
    return {"namespace": namespace, "name": name, **({"facets": facets} if facets else {})}


class _Events:
    """OpenLineage events with their times; :meth:`ordered` sorts them by time."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.items: list[tuple[datetime, bytes]] = []

    def run_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def run(
        self,
        start: datetime,
        minutes: float,
        job: tuple[str, str],
        inputs: list[dict[str, Any]],
        outputs: list[dict[str, Any]],
        *,
        bare_outputs: list[dict[str, Any]] | None = None,
        run_facets: dict[str, Any] | None = None,
    ) -> None:
        """A ``START`` (datasets named, no facets) and a ``COMPLETE`` ``minutes`` later."""
        rid = self.run_id()
        bare_in = [_ref(d["namespace"], d["name"]) for d in inputs]
        bare_out = bare_outputs or [_ref(d["namespace"], d["name"]) for d in outputs]
        self.items.append((start, _event("START", start, rid, job, bare_in, bare_out)))
        end = start + timedelta(minutes=minutes)
        self.items.append(
            (end, _event("COMPLETE", end, rid, job, inputs, outputs, run_facets=run_facets))
        )

    def ordered(self) -> list[bytes]:
        return [raw for _, raw in sorted(self.items, key=lambda item: item[0])]


def _pipeline(
    events: _Events, first_day: datetime, platform_inputs: list[tuple[str, str]], digest: str
) -> None:
    """The model's pipeline, daily over :data:`DAYS` days (training weekly and on the last day)."""
    rng = events.rng
    for day in range(DAYS):
        morning = first_day + timedelta(days=day, hours=1)
        for position, s in enumerate(SOURCES):
            facets: dict[str, Any] = {"schema": _schema(s.columns)}
            if s.pii:
                facets["tags"] = _pii_tags(s.pii)
            if s.classification is not None:
                facets["governance"] = _governance(s.classification)
            source = _ref(s.namespace, s.name, **facets)
            lake = _ref(LAKE, s.lake_name, **facets, ownership=_owners("data"))
            job = (ML_JOBS, f"ingest.{s.lake_name.removeprefix('staging/')}")
            start = morning + timedelta(minutes=3 * position)
            events.run(start, rng.uniform(4, 20), job, [source], [lake])
        taken = 0
        for position, f in enumerate(FEATURES):
            inputs = [_ref(LAKE, SOURCES[s].lake_name) for s in f.sources]
            inputs += [_ref(ns, name) for ns, name in platform_inputs[taken:][: f.platform_inputs]]
            taken += f.platform_inputs
            output = _ref(
                LAKE,
                f.name,
                schema=_schema(f.columns),
                ownership=_owners("ml-features"),
                governance=_governance(f.classification),
            )
            start = morning + timedelta(hours=1, minutes=5 * position)
            events.run(
                start,
                rng.uniform(5, 25),
                (ML_JOBS, f"features.{f.name.removeprefix('features/')}"),
                inputs,
                [output],
            )
        if (DAYS - 1 - day) % 7 == 0:
            _train_and_evaluate(events, morning + timedelta(hours=2), day == DAYS - 1, digest)


def _train_and_evaluate(events: _Events, start: datetime, last: bool, digest: str) -> None:
    """A training run (the last one writes ``digest``) and the evaluation of what it wrote."""
    written = digest if last else f"sha256:{events.rng.getrandbits(256):064x}"
    model = _ref(
        MODEL_NAMESPACE,
        MODEL_NAME,
        version=_facet("1-0-1/DatasetVersionDatasetFacet", datasetVersion=written),
        datasetType=_facet("1-0-0/DatasetTypeDatasetFacet", datasetType="MODEL"),
        ownership=_owners("ml-churn"),
        governance=_governance({**MODEL_CLASSIFICATION, "modelDigest": written}),
    )
    tests = _facet(
        "1-0-1/TestRunFacet",
        tests=[
            {"name": "unit_tests", "status": "pass"},
            {"name": "training_data_leakage", "status": "pass"},
            {"name": "auc_above_baseline", "status": "pass", "severity": "warn"},
        ],
    )
    features = [_ref(LAKE, f.name) for f in FEATURES]
    events.run(
        start, 40, (ML_JOBS, "ml.train_churn"), features, [model], run_facets={"test": tests}
    )
    assertions = _facet(
        "1-1-0/DataQualityAssertionsDatasetFacet",
        assertions=[
            {"assertion": "auc", "success": True},
            {"assertion": "calibration", "success": True},
            {"assertion": "not_null", "success": True, "column": "churn_probability"},
        ],
    )
    evaluated = {
        **_ref(MODEL_NAMESPACE, MODEL_NAME),
        "inputFacets": {"dataQualityAssertions": assertions},
    }
    metrics = _ref(MODEL_NAMESPACE, "metrics/churn", schema=_schema(("metric", "value")))
    events.run(
        start + timedelta(minutes=45),
        10,
        (ML_JOBS, "ml.evaluate_churn"),
        [evaluated, _ref(LAKE, FEATURES[0].name)],
        [metrics],
    )


def _platform_runs(shape: Shape, runs: int, rng: random.Random) -> list[int]:
    """Runs per platform job: ``runs`` in all, each job's share drawn between 0.5 and 1.5."""
    weights = [rng.uniform(0.5, 1.5) for _ in shape.jobs]
    scale = runs / sum(weights)
    counts = [max(1, int(w * scale)) for w in weights]
    while sum(counts) != runs:
        j = rng.randrange(len(counts))
        if sum(counts) < runs:
            counts[j] += 1
        elif counts[j] > 1:
            counts[j] -= 1
    return counts


def _platform(events: _Events, shape: Shape, runs: int, first_day: datetime) -> None:
    """Every platform run as one ``COMPLETE`` event, spread over :data:`DAYS` days."""
    rng = events.rng
    refs: list[dict[str, Any]] = []
    for position, d in enumerate(shape.datasets):
        if d.personal:
            where = EU if position % 2 else AE
            refs.append(_ref(d.namespace, d.name, governance=_governance(_personal(where))))
        else:
            refs.append(_ref(d.namespace, d.name))
    span = DAYS * 86_400 - 4 * 3_600
    for job, count in zip(shape.jobs, _platform_runs(shape, runs, rng), strict=True):
        name = (JOB_NAMESPACE, job.name)
        inputs = [refs[p] for p in job.inputs]
        outputs = [refs[p] for p in job.outputs]
        for k in range(count):
            moment = first_day + timedelta(
                seconds=k * span // count + 60 * job.layer + rng.randrange(60)
            )
            raw = _event("COMPLETE", moment, events.run_id(), name, inputs, outputs)
            events.items.append((moment, raw))


def shape_for(nodes: int, seed: int) -> Shape:
    """A platform DAG of about ``nodes`` nodes less the pipeline's."""
    pipeline_nodes = 2 * len(SOURCES) + 2 * len(FEATURES) + 2 + 2 + 2
    per_layer = max(2, round((nodes - pipeline_nodes) / NODES_PER_LAYER_JOB / (LAYERS - 1)))
    return layered_shape(per_layer, seed)


def lineage_events(
    entries: int, shape: Shape, seed: int, digest: str, end: datetime
) -> tuple[list[bytes], dict[str, int]]:
    """Every OpenLineage event of the ledger, in time order, and how many of each part."""
    events = _Events(random.Random(seed))
    first_day = (end - timedelta(days=DAYS)).replace(hour=0, minute=0, second=0, microsecond=0)
    # The pipeline's feature jobs read platform tables of the first layers above the sources.
    shallow = [p for layer in shape.by_layer[1:4] for p in layer]
    picked = events.rng.sample(shallow, sum(f.platform_inputs for f in FEATURES))
    platform_inputs = [(shape.datasets[p].namespace, shape.datasets[p].name) for p in picked]
    _pipeline(events, first_day, platform_inputs, digest)
    pipeline = len(events.items)
    runs = entries - OTHER_ENTRIES - pipeline
    if runs < len(shape.jobs):
        raise SystemExit(f"{entries:,} entries are too few for {len(shape.jobs):,} platform jobs")
    _platform(events, shape, runs, first_day)
    return events.ordered(), {"pipeline events": pipeline, "platform events": runs}


# ------------------------------------------------------------------------------ filling


async def _ingest_all(runtime: Runtime, events: list[bytes], submitter: Submitter) -> None:
    """Every event through ``LineageIngest.ingest``, :data:`WINDOW` in flight, in order."""
    started, next_report = time.perf_counter(), 30.0
    for first in range(0, len(events), WINDOW):
        chunk = events[first : first + WINDOW]
        await asyncio.gather(*(runtime.lineage.ingest(raw, submitter) for raw in chunk))
        elapsed = time.perf_counter() - started
        if elapsed >= next_report:
            done = first + len(chunk)
            say(f"    {done:,} events after {elapsed:.0f} s ({fmt_rate(done / elapsed, '/s')})")
            next_report += 30.0


def _submitter(runtime: Runtime, role: Role, name: str) -> Submitter:
    info, _secret = runtime.keys.create(role, name)
    return Submitter(info.name, info.key_id)


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def _document(runtime: Runtime, record: dict[str, Any], submitter: Submitter) -> str:
    """Keep ``record`` as a JSON evidence document; its ``sha256:`` reference."""
    body = json.dumps(record).encode()
    await runtime.evidence.store(body, "application/json", submitter)
    return "sha256:" + hashlib.sha256(body).hexdigest()


async def _steward_and_gate(
    runtime: Runtime, digest: str, bundle: bytes, verifier: Verifier, now: datetime
) -> str:
    """Documents, classifications, the attestation, approvals and the waiver (module
    docstring); returns the change record's reference."""
    from governance.attestations.service import AttestationService

    steward = _submitter(runtime, Role.STEWARD, "dpo")
    release = _submitter(runtime, Role.ADMIN, "release-bot")
    change = {
        "ref": "CHG-4711",
        "status": "approved",
        "approved_at": _stamp(now - timedelta(days=1)),
        "digest": digest,
    }
    change_ref = await _document(runtime, change, release)
    dpia = {
        "ref": "DPIA-2026-003",
        "status": "approved",
        "approvedAt": _stamp(now - timedelta(days=20)),
        "reviewDue": _stamp(now + timedelta(days=180)),
        "dpoAdviceRef": "DPO-ADVICE-77",
        "residualRisk": "low",
    }
    applied = _stamp(now - timedelta(hours=2))
    kinds_ = ("erasure", "objection", "restriction", "stop", "correction", "withdrawal")
    requests = {f"{kind}AppliedThrough": applied for kind in kinds_}
    model_classification = {
        **MODEL_CLASSIFICATION,
        "dpiaRef": await _document(runtime, dpia, steward),
        "requestsRef": await _document(runtime, requests, steward),
    }
    for f in FEATURES:
        check_classification(f.classification)
        await runtime.lineage.classify(LAKE, f.name, f.classification, steward)
    check_classification(model_classification)
    await runtime.lineage.classify(MODEL_NAMESPACE, MODEL_NAME, model_classification, steward)
    attestations = AttestationService(runtime.engine, runtime.ledger, verifier)
    attestations.record_trust_config()
    outcome = await attestations.submit(bundle, SIGNATURE_PURPOSE, release, expected_digest=digest)
    if not outcome.passed:
        raise RuntimeError(f"the model signature did not verify: {outcome.failure}")
    for approver in ("alice", "bob"):
        await runtime.gate.approve(
            digest=digest,
            target=TARGET,
            decision_id=None,
            comment="reviewed the evaluation report",
            submitter=_submitter(runtime, Role.APPROVER, approver),
        )
    await runtime.gate.waive(
        control=WAIVED_CONTROL,
        digest=digest,
        target=TARGET,
        reason="image scan runs after promotion to canary (SEC-311)",
        expires_at=now + timedelta(days=14),
        submitter=_submitter(runtime, Role.APPROVER, "carol"),
    )
    return change_ref


def model_signature() -> tuple[bytes, str, Verifier]:
    """The ``oms-tiny-key`` model signature, the model's digest, and a verifier trusting it."""
    from bench.attestations import build, case, roots
    from governance.attestations.trust import RegisteredKey, TrustConfig, key_algorithm_of
    from governance.attestations.verify import Request

    c = case("oms-tiny-key")
    bundle = (SIGNING / c["bundle"]).read_bytes()
    pem = (SIGNING / c["public_key"]).read_text()
    key = RegisteredKey(
        id="release-key",
        pem=pem,
        algorithm=key_algorithm_of(pem),
        purposes=frozenset({SIGNATURE_PURPOSE}),
    )
    trust = TrustConfig(trusted_roots=roots(), keys=(key,), default_trusted_root="production")
    verifier, _seconds = build(trust)
    model = Path(SIGNING / c["artifact"].split(" (")[0])
    facts = verifier.verify(Request(bundle=bundle, purpose=SIGNATURE_PURPOSE, artifact=model))
    digest = str(facts.model_digest)
    return bundle, digest if digest.startswith("sha256:") else f"sha256:{digest}", verifier


def build_world(runtime: Runtime, entries: int, nodes: int, seed: int) -> World:
    """Fill ``runtime``'s empty ledger (module docstring); the request the bench decides."""
    bundle, digest, verifier = model_signature()
    end = datetime.now(UTC) - timedelta(hours=1)
    shape = shape_for(nodes, seed)
    events, counts = lineage_events(entries, shape, seed, digest, end)
    started = time.perf_counter()
    ingest = _submitter(runtime, Role.INGEST, "airflow")
    with asyncio.Runner() as runner:
        runner.run(_ingest_all(runtime, events, ingest))
        change_ref = runner.run(
            _steward_and_gate(runtime, digest, bundle, verifier, datetime.now(UTC))
        )
    seconds = time.perf_counter() - started
    size, _root = runtime.ledger.head()
    with runtime.engine.connect() as conn:
        for table in ("lineage_datasets", "lineage_jobs", "lineage_runs", "lineage_edges"):
            counts[table] = int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
    request = GateRequest.model_validate(
        {
            "model": {
                "name": "churn",
                "version": "2026.7.1",
                "digest": digest,
                "lineage": {"namespace": MODEL_NAMESPACE, "name": MODEL_NAME},
                "purpose": PURPOSE,
            },
            "target": TARGET,
            "strategy": "canary",
            "change_ref": change_ref,
            "initiator": "dave",
        }
    )
    return World(request, size, seconds, counts)
