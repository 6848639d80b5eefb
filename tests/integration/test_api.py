"""The HTTP API through FastAPI's TestClient, on SQLite and on PostgreSQL.

Every receipt, checkpoint and proof the API hands out is checked independently: checkpoints with
a :class:`NoteVerifier` built from ``GET /api/v1/ledger/public-key``, proofs with the RFC 9162
verifiers in :mod:`governance.ledger.merkle`. Every rejected request must be a clean RFC 9457
problem and must leave the ledger exactly as it was.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from governance.api.app import create_app
from governance.auth.keys import KeyStore
from governance.config import Settings
from governance.db import DatabaseAddress, connect
from governance.ledger import merkle
from governance.ledger.checkpoint import Checkpoint, NoteVerifier
from governance.runtime import Runtime
from governance.sql import Dialect

if TYPE_CHECKING:
    # Starlette's TestClient is built on httpx2 (httpx's successor): its responses are httpx2's.
    from httpx2 import Response

EVIDENCE = "/api/v1/evidence"
LEDGER = "/api/v1/ledger"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n\x00\x01\xff\xfe%%EOF\n"
ORIGIN = "test.governance/ledger"  # the origin the shared `settings` fixture configures
SMALL_LIMIT = 2048  # the smallest max_body_bytes the settings allow is 1024
FIRST_DOCUMENT_SHA256 = hashlib.sha256(b"document 0\n").hexdigest()  # see `documents`


# --------------------------------------------------------------------------------------- helpers


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def head_size(runtime: Runtime) -> int:
    return runtime.ledger.head()[0]


def assert_problem(response: Response, status: int) -> dict[str, Any]:
    """A clean RFC 9457 problem with ``status``: no stack trace, no internals."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0].strip() == "application/problem+json"
    body = response.json()
    assert isinstance(body, dict)
    for member in ("type", "title", "status", "detail"):
        assert member in body, f"problem without {member!r}: {body}"
    assert body["status"] == status
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    return body


def post(
    client: TestClient,
    key: str | None,
    body: bytes | Iterator[bytes],
    media_type: str | None = "application/pdf",
    /,  # so that no header can be taken for a parameter
    **headers: str | bytes,
) -> Response:
    sent: dict[str, Any] = dict(headers)
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    if media_type is not None:
        sent["Content-Type"] = media_type
    return client.post(EVIDENCE, content=body, headers=sent)


def verifier_for(client: TestClient, key: str) -> NoteVerifier:
    response = client.get(f"{LEDGER}/public-key", headers=bearer(key))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return NoteVerifier.from_verifier_key(response.text.strip())


def signed_checkpoint(
    client: TestClient, key: str, verifier: NoteVerifier, size: int | None = None
) -> Checkpoint:
    params = {} if size is None else {"size": size}
    response = client.get(f"{LEDGER}/checkpoint", params=params, headers=bearer(key))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    checkpoint = verifier.verify(response.text)
    assert checkpoint.origin == ORIGIN
    return checkpoint


def assert_receipt_verifies(receipt: dict[str, Any], verifier: NoteVerifier) -> Checkpoint:
    """The receipt's inclusion proof leads to the root its own signed checkpoint names."""
    checkpoint = verifier.verify(receipt["checkpoint"])
    assert checkpoint.origin == ORIGIN
    assert checkpoint.size == receipt["tree_size"]
    merkle.verify_inclusion(
        bytes.fromhex(receipt["leaf_hash"]),
        receipt["index"],
        receipt["tree_size"],
        [bytes.fromhex(h) for h in receipt["inclusion_proof"]],
        checkpoint.root,
    )
    return checkpoint


# -------------------------------------------------------------------------------------- fixtures


@pytest.fixture
def keys(runtime: Runtime) -> dict[str, str]:
    """One API key per role."""
    return {
        role: runtime.keys.create(role, f"test-{role}")[1]
        for role in ("ingest", "gate", "approver", "auditor", "admin")
    }


@pytest.fixture
def client(settings: Settings, runtime: Runtime) -> Iterator[TestClient]:
    # raise_server_exceptions=False: a crash must surface as the 500 a real client would get.
    with TestClient(create_app(settings, runtime), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def small_client(settings: Settings, runtime: Runtime) -> Iterator[TestClient]:
    """The same runtime behind an app whose body limit is SMALL_LIMIT bytes."""
    small = settings.model_copy(update={"max_body_bytes": SMALL_LIMIT})
    with TestClient(create_app(small, runtime), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def documents(client: TestClient, keys: dict[str, str]) -> list[dict[str, Any]]:
    """Seven evidence documents, posted one at a time; their receipts in order."""
    receipts = []
    for i in range(7):
        response = post(client, keys["ingest"], f"document {i}\n".encode(), "text/plain")
        assert response.status_code == 201, response.text
        receipts.append(response.json())
    assert [r["index"] for r in receipts] == list(range(7))
    return receipts


# -------------------------------------------------------------------------------------- evidence


def test_post_evidence_returns_a_verifiable_receipt(
    client: TestClient, runtime: Runtime, keys: dict[str, str]
) -> None:
    for i in range(3):  # some history, so the proof is not trivially empty
        assert (
            post(client, keys["ingest"], f"earlier {i}".encode(), "text/plain").status_code == 201
        )

    response = post(client, keys["ingest"], PDF, "application/pdf")

    assert response.status_code == 201, response.text
    receipt = response.json()
    assert {"index", "leaf_hash", "checkpoint", "inclusion_proof", "tree_size", "sha256"} <= set(
        receipt
    )
    digest = hashlib.sha256(PDF).hexdigest()
    assert receipt["sha256"] == digest
    assert receipt["index"] == 3
    assert receipt["kind"] == "evidence"
    assert receipt["tree_size"] == 4
    assert receipt["duplicate"] is False
    assert len(receipt["inclusion_proof"]) == 2
    assert response.headers["location"] == f"{EVIDENCE}/{digest}"

    verifier = verifier_for(client, keys["auditor"])
    checkpoint = assert_receipt_verifies(receipt, verifier)
    assert (checkpoint.size, checkpoint.root) == runtime.ledger.head()

    # The leaf is the hash of the stored envelope, which commits to the document.
    entry = client.get(f"{LEDGER}/entries/{receipt['index']}", headers=bearer(keys["auditor"]))
    envelope = base64.b64decode(entry.json()["envelope"])
    assert merkle.leaf_hash(envelope).hex() == receipt["leaf_hash"]
    committed = json.loads(envelope)["payload"]
    assert committed == {"media_type": "application/pdf", "size": len(PDF), "sha256": digest}

    fetched = client.get(response.headers["location"], headers=bearer(keys["auditor"]))
    assert fetched.status_code == 200
    assert fetched.content == PDF
    assert fetched.headers["content-type"] == "application/pdf"
    assert fetched.headers["x-ledger-index"] == "3"


@pytest.mark.parametrize("role", ["ingest", "admin"])
def test_roles_that_may_post_evidence(client: TestClient, keys: dict[str, str], role: str) -> None:
    response = post(client, keys[role], b"posted by " + role.encode(), "text/plain")
    assert response.status_code == 201, response.text


def test_media_type_parameters_are_kept(client: TestClient, keys: dict[str, str]) -> None:
    media_type = "text/csv; charset=utf-8"
    response = post(client, keys["ingest"], "a,b\n1,ü\n".encode(), media_type)
    assert response.status_code == 201, response.text
    fetched = client.get(response.headers["location"], headers=bearer(keys["admin"]))
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == media_type
    assert fetched.content == "a,b\n1,ü\n".encode()


def test_the_same_document_again_is_a_duplicate(
    client: TestClient, runtime: Runtime, keys: dict[str, str]
) -> None:
    first = post(client, keys["ingest"], PDF)
    assert first.status_code == 201
    size = head_size(runtime)

    again = post(client, keys["ingest"], PDF)

    assert again.status_code == 200, again.text
    original, duplicate = first.json(), again.json()
    assert duplicate["duplicate"] is True
    for field in ("index", "leaf_hash", "sha256", "tree_size", "checkpoint", "inclusion_proof"):
        assert duplicate[field] == original[field], field
    assert again.headers["location"] == first.headers["location"]
    assert head_size(runtime) == size
    assert_receipt_verifies(duplicate, verifier_for(client, keys["auditor"]))


def test_a_duplicate_after_later_appends_still_verifies(
    client: TestClient, runtime: Runtime, keys: dict[str, str], documents: list[dict[str, Any]]
) -> None:
    again = post(client, keys["ingest"], b"document 2\n", "text/plain")
    assert again.status_code == 200, again.text
    receipt = again.json()
    assert receipt["duplicate"] is True
    assert receipt["index"] == 2
    assert head_size(runtime) == len(documents)
    assert_receipt_verifies(receipt, verifier_for(client, keys["auditor"]))


def test_idempotency_key_reuse(client: TestClient, runtime: Runtime, keys: dict[str, str]) -> None:
    key = "upload-2024-07-01T12:00:00Z#1"
    first = post(client, keys["ingest"], b"first version", "text/plain", **{"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    size = head_size(runtime)

    # Another body under the same key: a conflict, and nothing is stored.
    other = b"second version"
    conflict = post(client, keys["ingest"], other, "text/plain", **{"Idempotency-Key": key})
    body = assert_problem(conflict, 409)
    assert body["type"].endswith(":conflict")
    assert head_size(runtime) == size
    missing = client.get(
        f"{EVIDENCE}/{hashlib.sha256(other).hexdigest()}", headers=bearer(keys["auditor"])
    )
    assert_problem(missing, 404)

    # The same body under the same key: the original receipt.
    retry = post(client, keys["ingest"], b"first version", "text/plain", **{"Idempotency-Key": key})
    assert retry.status_code == 200, retry.text
    assert retry.json()["duplicate"] is True
    assert retry.json()["index"] == first.json()["index"]
    assert retry.json()["leaf_hash"] == first.json()["leaf_hash"]
    assert head_size(runtime) == size


def test_idempotency_key_of_maximum_length_is_accepted(
    client: TestClient, keys: dict[str, str]
) -> None:
    response = post(client, keys["ingest"], b"x", "text/plain", **{"Idempotency-Key": "k" * 255})
    assert response.status_code == 201, response.text


def test_erased_evidence_is_gone(
    client: TestClient, runtime: Runtime, keys: dict[str, str]
) -> None:
    response = post(client, keys["ingest"], PDF)
    index = response.json()["index"]
    runtime.ledger.erase(index, "data subject request")

    fetched = client.get(response.headers["location"], headers=bearer(keys["auditor"]))
    body = assert_problem(fetched, 410)
    assert body["type"].endswith(":erased")
    assert fetched.headers["x-ledger-index"] == str(index)
    entry = client.get(f"{LEDGER}/entries/{index}", headers=bearer(keys["auditor"])).json()
    assert entry["erased"] is True
    # The envelope, and so the tree, is untouched.
    assert (
        merkle.leaf_hash(base64.b64decode(entry["envelope"])).hex() == response.json()["leaf_hash"]
    )


# ------------------------------------------------------------------------------- bad input: auth


def test_no_authorization(client: TestClient, runtime: Runtime) -> None:
    response = post(client, None, PDF)
    body = assert_problem(response, 401)
    assert body["type"].endswith(":unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert head_size(runtime) == 0


@pytest.mark.parametrize(
    "header",
    ["Basic x", "Bearer", "Bearer ", "Bearer a b", "bearer", "Token gov_x", "gov_abc"],
)
def test_malformed_authorization(
    client: TestClient, runtime: Runtime, keys: dict[str, str], header: str
) -> None:
    response = post(client, None, PDF, **{"Authorization": header})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert head_size(runtime) == 0


@pytest.mark.parametrize(
    "token",
    ["gov_000000000000_notarealsecret", "not-a-governance-key", "gov_" + "a" * 300],
)
def test_unknown_key(
    client: TestClient, runtime: Runtime, keys: dict[str, str], token: str
) -> None:
    response = post(client, token, PDF)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert head_size(runtime) == 0


def test_a_real_key_with_one_character_changed_is_unknown(
    client: TestClient, runtime: Runtime, keys: dict[str, str]
) -> None:
    key = keys["ingest"]
    forged = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert_problem(post(client, forged, PDF), 401)
    assert head_size(runtime) == 0


def test_non_ascii_bearer_token(client: TestClient, runtime: Runtime) -> None:
    response = post(
        client, None, PDF, **{"Authorization": "Bearer gov_\xe9t\xe9".encode("latin-1")}
    )
    assert_problem(response, 401)
    assert head_size(runtime) == 0


def test_revoked_key_is_refused(settings: Settings) -> None:
    # Without the verified-key cache a revocation from another process takes effect at once.
    uncached = settings.model_copy(update={"api_key_cache_seconds": 0})
    rt = Runtime.open(uncached)
    try:
        _info, auditor = rt.keys.create("auditor", "auditor")
        info, key = rt.keys.create("ingest", "soon revoked")
        with TestClient(create_app(uncached, rt), raise_server_exceptions=False) as c:
            assert post(c, key, b"before revocation", "text/plain").status_code == 201
            size = head_size(rt)

            # Revoke it the way `governance keys revoke` does: another KeyStore on plain
            # connections of its own.
            database = DatabaseAddress.from_url(uncached.database_url)
            KeyStore(lambda: connect(database), Dialect(database.backend)).revoke(info.key_id)

            response = post(c, key, b"after revocation", "text/plain")
            assert_problem(response, 401)
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert head_size(rt) == size
            # Other keys are unaffected.
            assert c.get(f"{LEDGER}/checkpoint", headers=bearer(auditor)).status_code == 200
    finally:
        rt.close()


@pytest.mark.parametrize("role", ["auditor", "gate", "approver"])
def test_roles_that_may_not_post_evidence(
    client: TestClient, runtime: Runtime, keys: dict[str, str], role: str
) -> None:
    body = assert_problem(post(client, keys[role], PDF), 403)
    assert body["type"].endswith(":forbidden")
    assert head_size(runtime) == 0


@pytest.mark.parametrize(
    "path",
    [
        f"{LEDGER}/checkpoint",
        f"{LEDGER}/public-key",
        f"{LEDGER}/entries/0",
        f"{LEDGER}/proofs/inclusion?index=0&size=1",
        f"{LEDGER}/proofs/consistency?from=0&to=1",
        f"{EVIDENCE}/{FIRST_DOCUMENT_SHA256}",
        "/metrics",
    ],
)
def test_reading_needs_auditor_or_admin(
    client: TestClient, keys: dict[str, str], documents: list[dict[str, Any]], path: str
) -> None:
    assert_problem(client.get(path), 401)
    for role in ("ingest", "gate", "approver"):
        assert_problem(client.get(path, headers=bearer(keys[role])), 403)
    for role in ("auditor", "admin"):
        assert client.get(path, headers=bearer(keys[role])).status_code == 200, role


# ------------------------------------------------------------------------------- bad input: body


def test_missing_content_type(client: TestClient, runtime: Runtime, keys: dict[str, str]) -> None:
    response = post(client, keys["ingest"], PDF, None)
    body = assert_problem(response, 415)
    assert body["type"].endswith(":unsupported-media-type")
    assert head_size(runtime) == 0


@pytest.mark.parametrize("media_type", ["pdf", "text/", "/plain", "a b/c"])
def test_invalid_content_type(
    client: TestClient, runtime: Runtime, keys: dict[str, str], media_type: str
) -> None:
    assert_problem(post(client, keys["ingest"], PDF, media_type), 400)
    assert head_size(runtime) == 0


def test_empty_body(client: TestClient, runtime: Runtime, keys: dict[str, str]) -> None:
    body = assert_problem(post(client, keys["ingest"], b"", "text/plain"), 400)
    assert body["type"].endswith(":invalid-input")
    assert head_size(runtime) == 0


def test_body_at_the_limit_is_accepted(small_client: TestClient, keys: dict[str, str]) -> None:
    response = post(small_client, keys["ingest"], b"x" * SMALL_LIMIT, "text/plain")
    assert response.status_code == 201, response.text


def test_oversize_body_with_content_length(
    small_client: TestClient, runtime: Runtime, keys: dict[str, str]
) -> None:
    response = post(small_client, keys["ingest"], b"x" * (SMALL_LIMIT + 1), "text/plain")
    body = assert_problem(response, 413)
    assert body["type"].endswith(":payload-too-large")
    assert head_size(runtime) == 0


def test_oversize_streamed_body(
    small_client: TestClient, runtime: Runtime, keys: dict[str, str]
) -> None:
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            sent.append(512)
            yield b"y" * 512

    response = post(small_client, keys["ingest"], chunks(), "text/plain")
    assert "content-length" not in response.request.headers
    body = assert_problem(response, 413)
    assert body["type"].endswith(":payload-too-large")
    assert head_size(runtime) == 0


def test_streamed_body_under_the_limit_is_accepted(
    small_client: TestClient, keys: dict[str, str]
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"part one, "
        yield b"part two"

    response = post(small_client, keys["ingest"], chunks(), "text/plain")
    assert response.status_code == 201, response.text
    assert response.json()["sha256"] == hashlib.sha256(b"part one, part two").hexdigest()


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", ""])
def test_malformed_content_length(
    client: TestClient, runtime: Runtime, keys: dict[str, str], value: str
) -> None:
    response = post(client, keys["ingest"], b"abc", "text/plain", **{"Content-Length": value})
    assert response.request.headers["content-length"] == value
    assert_problem(response, 400)
    assert head_size(runtime) == 0


@pytest.mark.parametrize(
    "value",
    [
        "k" * 256,
        "has space",
        "tab\there",
        "",
        "cl\xe9".encode("latin-1"),
        "ключ".encode(),
    ],
    ids=["too-long", "space", "tab", "empty", "latin-1", "utf-8"],
)
def test_bad_idempotency_key(
    client: TestClient, runtime: Runtime, keys: dict[str, str], value: str | bytes
) -> None:
    response = post(client, keys["ingest"], PDF, **{"Idempotency-Key": value})
    body = assert_problem(response, 400)
    assert "Idempotency-Key" in body["detail"]
    assert head_size(runtime) == 0


# ------------------------------------------------------------------------ bad input: reading


@pytest.mark.parametrize(
    "digest",
    ["xyz", "A" * 64, "a" * 63, "a" * 65, "g" * 64, hashlib.sha256(b"x").hexdigest().upper()],
)
def test_bad_digest(client: TestClient, keys: dict[str, str], digest: str) -> None:
    body = assert_problem(client.get(f"{EVIDENCE}/{digest}", headers=bearer(keys["auditor"])), 400)
    assert body["type"].endswith(":invalid-input")


def test_unknown_digest(client: TestClient, keys: dict[str, str]) -> None:
    response = client.get(f"{EVIDENCE}/{'0' * 64}", headers=bearer(keys["auditor"]))
    body = assert_problem(response, 404)
    assert body["type"].endswith(":not-found")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"{LEDGER}/entries/999999", 404),
        (f"{LEDGER}/entries/7", 404),
        (f"{LEDGER}/entries/abc", 400),
        (f"{LEDGER}/checkpoint?size=8", 404),
        (f"{LEDGER}/checkpoint?size=0", 400),
        (f"{LEDGER}/checkpoint?size=x", 400),
        (f"{LEDGER}/proofs/inclusion?index=7", 400),
        (f"{LEDGER}/proofs/inclusion?index=7&size=7", 400),
        (f"{LEDGER}/proofs/inclusion?index=9&size=3", 400),
        (f"{LEDGER}/proofs/inclusion?index=-1&size=3", 400),
        (f"{LEDGER}/proofs/inclusion?index=0&size=0", 400),
        (f"{LEDGER}/proofs/inclusion?size=3", 400),
        (f"{LEDGER}/proofs/inclusion?index=0&size=8", 404),
        (f"{LEDGER}/proofs/inclusion?index=0&size=1000000", 404),
        (f"{LEDGER}/proofs/consistency?from=5&to=3", 400),
        (f"{LEDGER}/proofs/consistency?from=-1&to=3", 400),
        (f"{LEDGER}/proofs/consistency?from=1", 400),
        (f"{LEDGER}/proofs/consistency?from=3&to=8", 404),
        (f"{LEDGER}/proofs/consistency?from=0&to=1000000", 404),
    ],
)
def test_bad_ledger_requests(
    client: TestClient,
    runtime: Runtime,
    keys: dict[str, str],
    documents: list[dict[str, Any]],
    path: str,
    status: int,
) -> None:
    assert_problem(client.get(path, headers=bearer(keys["auditor"])), status)
    assert head_size(runtime) == len(documents)


def test_checkpoint_of_the_empty_ledger(client: TestClient, keys: dict[str, str]) -> None:
    assert_problem(client.get(f"{LEDGER}/checkpoint", headers=bearer(keys["auditor"])), 404)


HUGE = 2**64


@pytest.mark.parametrize(
    "path",
    [
        f"{LEDGER}/entries/-1",
        f"{LEDGER}/entries/{HUGE}",
        f"{LEDGER}/checkpoint?size={HUGE}",
        f"{LEDGER}/proofs/inclusion?index=0&size={HUGE}",
        f"{LEDGER}/proofs/inclusion?index={HUGE}&size={HUGE + 1}",
        f"{LEDGER}/proofs/consistency?from=1&to={HUGE}",
    ],
)
def test_out_of_range_numbers_are_a_clean_4xx(
    client: TestClient, keys: dict[str, str], documents: list[dict[str, Any]], path: str
) -> None:
    response = client.get(path, headers=bearer(keys["auditor"]))
    assert 400 <= response.status_code < 500
    assert_problem(response, response.status_code)


def test_unknown_route(client: TestClient, keys: dict[str, str]) -> None:
    assert_problem(client.get("/no/such/route"), 404)
    assert_problem(client.get("/api/v1/nothing", headers=bearer(keys["admin"])), 404)


def test_wrong_method(client: TestClient, runtime: Runtime, keys: dict[str, str]) -> None:
    assert_problem(client.delete(EVIDENCE, headers=bearer(keys["admin"])), 405)
    assert_problem(client.put(EVIDENCE, content=b"x", headers=bearer(keys["admin"])), 405)
    assert head_size(runtime) == 0


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        # Two routes at one path: Starlette named only the first one's method (schemathesis).
        ("/api/v1/lineage", "GET, POST"),
        ("/api/v1/attestations", "GET, POST"),
        (EVIDENCE, "POST"),
        (f"{LEDGER}/checkpoint", "GET"),
    ],
)
def test_405_names_every_method_the_path_serves(
    client: TestClient, keys: dict[str, str], path: str, allowed: str
) -> None:
    """RFC 9110 §15.5.6: a 405 lists every method the resource supports in ``Allow``."""
    response = client.request("OPTIONS", path, headers=bearer(keys["admin"]))
    assert_problem(response, 405)
    assert response.headers["allow"] == allowed


# ------------------------------------------------------------------------------------- the ledger


def test_checkpoints_and_public_key(
    client: TestClient, runtime: Runtime, keys: dict[str, str], documents: list[dict[str, Any]]
) -> None:
    auditor = keys["auditor"]
    response = client.get(f"{LEDGER}/public-key", headers=bearer(auditor))
    assert response.text.strip() == runtime.signer.verifier_key
    assert response.text.strip().startswith(ORIGIN + "+")
    verifier = verifier_for(client, auditor)

    newest = signed_checkpoint(client, auditor, verifier)
    assert (newest.size, newest.root) == runtime.ledger.head()

    # One checkpoint per committed batch: every receipt names one, retrievable by its size.
    for receipt in documents:
        at_size = signed_checkpoint(client, auditor, verifier, receipt["tree_size"])
        assert at_size.size == receipt["tree_size"]
        assert at_size == verifier.verify(receipt["checkpoint"])

    assert_problem(
        client.get(
            f"{LEDGER}/checkpoint", params={"size": newest.size + 1}, headers=bearer(auditor)
        ),
        404,
    )


def test_entries(client: TestClient, keys: dict[str, str], documents: list[dict[str, Any]]) -> None:
    previous = bytes(32)
    for receipt in documents:
        i = receipt["index"]
        response = client.get(f"{LEDGER}/entries/{i}", headers=bearer(keys["auditor"]))
        assert response.status_code == 200, response.text
        entry = response.json()
        envelope = base64.b64decode(entry["envelope"], validate=True)
        assert hashlib.sha256(b"\x00" + envelope).hexdigest() == entry["leaf_hash"]
        assert entry["leaf_hash"] == receipt["leaf_hash"]
        assert entry["index"] == i
        assert entry["kind"] == "evidence"
        assert entry["payload_sha256"] == hashlib.sha256(f"document {i}\n".encode()).hexdigest()
        assert entry["erased"] is False
        parsed = json.loads(envelope)
        assert parsed["index"] == i
        assert parsed["kind"] == "evidence"
        assert parsed["prev"] == previous.hex()  # the hash chain
        assert parsed["payload"]["sha256"] == entry["payload_sha256"]
        assert parsed["subjects"] == [{"sha256": entry["payload_sha256"]}]
        previous = bytes.fromhex(entry["leaf_hash"])


def test_inclusion_proofs(
    client: TestClient, keys: dict[str, str], documents: list[dict[str, Any]]
) -> None:
    auditor = keys["auditor"]
    verifier = verifier_for(client, auditor)
    for size in range(1, len(documents) + 1):
        root = signed_checkpoint(client, auditor, verifier, size).root
        for index in range(size):
            response = client.get(
                f"{LEDGER}/proofs/inclusion",
                params={"index": index, "size": size},
                headers=bearer(auditor),
            )
            assert response.status_code == 200, response.text
            proof = response.json()
            assert (proof["index"], proof["tree_size"]) == (index, size)
            assert proof["leaf_hash"] == documents[index]["leaf_hash"]
            merkle.verify_inclusion(
                bytes.fromhex(proof["leaf_hash"]),
                index,
                size,
                [bytes.fromhex(h) for h in proof["hashes"]],
                root,
            )

    # Without a size the proof is for the current tree.
    newest = signed_checkpoint(client, auditor, verifier)
    response = client.get(
        f"{LEDGER}/proofs/inclusion", params={"index": 3}, headers=bearer(auditor)
    )
    proof = response.json()
    assert proof["tree_size"] == newest.size
    merkle.verify_inclusion(
        bytes.fromhex(proof["leaf_hash"]),
        3,
        newest.size,
        [bytes.fromhex(h) for h in proof["hashes"]],
        newest.root,
    )


def test_consistency_proofs(
    client: TestClient, keys: dict[str, str], documents: list[dict[str, Any]]
) -> None:
    auditor = keys["auditor"]
    verifier = verifier_for(client, auditor)
    roots = {0: merkle.EMPTY_ROOT}
    for size in range(1, len(documents) + 1):
        roots[size] = signed_checkpoint(client, auditor, verifier, size).root
    for old in roots:
        for new in roots:
            if old > new:
                continue
            response = client.get(
                f"{LEDGER}/proofs/consistency",
                params={"from": old, "to": new},
                headers=bearer(auditor),
            )
            assert response.status_code == 200, response.text
            proof = response.json()
            assert (proof["from"], proof["to"]) == (old, new)
            merkle.verify_consistency(
                old, new, roots[old], roots[new], [bytes.fromhex(h) for h in proof["hashes"]]
            )


# ------------------------------------------------------------------------------------ operations


def test_healthz_needs_no_key(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_needs_no_key(
    client: TestClient, runtime: Runtime, documents: list[dict[str, Any]]
) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["tree_size"] == len(documents)
    assert body["key"] == runtime.signer.verifier_key


def test_metrics(client: TestClient, keys: dict[str, str]) -> None:
    assert_problem(client.get("/metrics"), 401)
    assert_problem(client.get("/metrics", headers=bearer(keys["ingest"])), 403)
    assert post(client, keys["ingest"], PDF).status_code == 201

    for role in ("auditor", "admin"):
        response = client.get("/metrics", headers=bearer(keys[role]))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        text = response.text
        assert 'governance_ledger_appends_total{kind="evidence"} 1.0' in text
        assert "governance_ledger_commit_seconds" in text
        assert 'governance_http_requests_total{route="/api/v1/evidence",status="201"} 1.0' in text


def test_openapi_lists_the_api(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "post" in paths[EVIDENCE]
    assert "get" in paths[f"{EVIDENCE}/{{sha256}}"]
    for path in (
        "checkpoint",
        "public-key",
        "entries/{index}",
        "proofs/inclusion",
        "proofs/consistency",
    ):
        assert "get" in paths[f"{LEDGER}/{path}"], path


@pytest.mark.parametrize("freeze", [True, False])
def test_a_served_app_freezes_its_startup_heap(
    settings: Settings, runtime: Runtime, freeze: bool
) -> None:
    """`governance serve` builds the app with freeze_heap: once started, what is alive moves to
    the collector's permanent generation so full collections stop re-walking it. The default
    (tests, embedding) leaves the collector alone."""
    gc.unfreeze()
    try:
        with TestClient(create_app(settings, runtime, freeze_heap=freeze)) as client:
            assert client.get("/healthz").status_code == 200
            frozen = gc.get_freeze_count()
        assert (frozen > 10_000) is freeze, frozen
    finally:
        gc.unfreeze()
