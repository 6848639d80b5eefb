"""Evidence documents: any file (a DPIA, a pen-test report, a ticket export) kept in the ledger."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header, Path, Request, Response

from governance.api import routing
from governance.api.deps import require, runtime, submitter
from governance.api.errors import problem
from governance.api.openapi import IDEMPOTENCY_KEY, problem_response, problems
from governance.api.schemas import ReceiptModel
from governance.auth.keys import Principal, Role
from governance.errors import InputError
from governance.ledger import kinds

router = routing.router(prefix="/api/v1/evidence", tags=["evidence"])

_KEY_CHARS = re.compile(r"^[\x21-\x7e]+$")

RECEIPT_EXAMPLE = {
    "index": 41,
    "kind": kinds.EVIDENCE.name,
    "leaf_hash": "5f3a…",
    "sha256": "9b1c…",
    "tree_size": 42,
    "checkpoint": "governance-audit.local/ledger\n42\nq0…=\n\n— governance-audit.local/ledger …\n",
    "inclusion_proof": ["aa…", "bb…"],
    "duplicate": False,
}
_LOCATION = {
    "Location": {
        "description": "where the document is fetched: /api/v1/evidence/{sha256}",
        "required": True,
        "schema": {"type": "string"},
    }
}
_LEDGER_INDEX = {
    "X-Ledger-Index": {
        "description": "the ledger index of the document's entry",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
}


def idempotency_key(request: Request, max_length: int) -> str | None:
    """The ``Idempotency-Key`` header, validated; ``None`` when absent."""
    value = request.headers.get("idempotency-key")
    if value is None:
        return None
    if not 0 < len(value) <= max_length or not _KEY_CHARS.match(value):
        raise InputError(
            f"Idempotency-Key must be 1-{max_length} printable ASCII characters without spaces"
        )
    return value


@router.post(
    "",
    status_code=201,
    summary="Store an evidence document (role ingest or admin)",
    response_description="The ledger receipt: index, leaf hash, signed checkpoint, inclusion proof",
    responses={
        201: {
            "content": {"application/json": {"example": RECEIPT_EXAMPLE}},
            "headers": _LOCATION,
        },
        200: {
            "model": ReceiptModel,
            "description": "the same document (or Idempotency-Key) was stored before",
            "headers": _LOCATION,
        },
        **problems(
            403,
            409,
            (415, "no Content-Type: the document's media type is recorded with it"),
            503,
        ),
    },
    openapi_extra={
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": {
            "required": True,
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        },
    },
)
async def store_evidence(
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require(Role.INGEST, Role.ADMIN))],
    content_type: Annotated[str | None, Header()] = None,
) -> ReceiptModel:
    """Keep the raw body with its ``Content-Type`` as a ledger entry of kind ``evidence``.

    The default idempotency key is the body's SHA-256, so sending the same document again returns
    the original receipt; an ``Idempotency-Key`` header overrides it.
    """
    rt = runtime(request)
    key = idempotency_key(request, rt.settings.max_idempotency_key_length)
    receipt = await rt.evidence.store(await request.body(), content_type, submitter(principal), key)
    response.status_code = 200 if receipt.duplicate else 201
    response.headers["Location"] = f"/api/v1/evidence/{receipt.payload_sha256}"
    return ReceiptModel.model_validate(receipt.to_json())


@router.get(
    "/{sha256}",
    summary="Fetch an evidence document by SHA-256 (role auditor or admin)",
    response_class=Response,
    responses={
        200: {
            "description": "the document's bytes, with the media type it was stored with",
            # Any bytes at all: OpenAPI 3.1 describes binary content by giving no schema.
            "content": {"*/*": {}},
            "headers": {
                **_LEDGER_INDEX,
                "Content-Disposition": {
                    "description": 'attachment; filename="<sha256>"',
                    "required": True,
                    "schema": {"type": "string"},
                },
            },
        },
        **problems(403, (404, "unknown digest")),
        410: problem_response(410, "the document was erased", headers=_LEDGER_INDEX),
    },
)
async def get_evidence(
    # Documented only: the service's own check answers a clearer 400 than a pattern would.
    sha256: Annotated[str, Path(json_schema_extra={"pattern": "^[0-9a-f]{64}$"})],
    request: Request,
    _principal: Annotated[Principal, Depends(require(Role.AUDITOR, Role.ADMIN))],
) -> Response:
    """The document's bytes with their original media type, as an attachment.

    The ledger index is in ``X-Ledger-Index``; ``Content-Disposition: attachment`` and a
    sandboxing ``Content-Security-Policy`` keep a browser from rendering it in this origin.
    """
    document = await runtime(request).evidence.fetch(sha256)
    headers = {"X-Ledger-Index": str(document.index)}
    if document.data is None:
        return problem(410, f"evidence {sha256} was erased", code="erased", headers=headers)
    # A stored document is whatever someone uploaded (an HTML page with a script, an SVG): a
    # browser must save it, never render or run it in the service's origin.
    headers["Content-Disposition"] = f'attachment; filename="{sha256}"'
    headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return Response(document.data, media_type=document.media_type, headers=headers)
