"""Read-only ledger API for auditors: checkpoints, the public key, entries and proofs."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from governance.api import routing
from governance.api.deps import require, runtime
from governance.api.openapi import problems
from governance.api.schemas import MAX_INDEX
from governance.auth.keys import Role

router = routing.router(
    prefix="/api/v1/ledger",
    tags=["ledger"],
    dependencies=[Depends(require(Role.AUDITOR, Role.ADMIN))],
    responses=problems(403),
)


class EntryModel(BaseModel):
    """One entry as stored: its exact envelope bytes, leaf hash and payload state."""

    index: int
    kind: str
    envelope: str = Field(description="base64 of the exact leaf bytes (canonical JSON)")
    leaf_hash: str = Field(description="SHA-256(0x00 ‖ envelope), hex")
    payload_sha256: str = Field(description="SHA-256 of the payload the envelope commits to, hex")
    erased: bool = Field(description="the payload was erased (the envelope stays)")


class InclusionProofModel(BaseModel):
    """An RFC 9162 inclusion proof of an entry in a tree size."""

    index: int
    tree_size: int
    leaf_hash: str = Field(description="the entry's leaf hash, hex")
    hashes: list[str] = Field(description="the audit path, leaf side first, hex")


class ConsistencyProofModel(BaseModel):
    """An RFC 9162 consistency proof between two tree sizes."""

    model_config = ConfigDict(validate_by_name=True)

    from_size: int = Field(alias="from", description="the smaller tree size")
    to_size: int = Field(alias="to", description="the larger tree size")
    hashes: list[str] = Field(description="the proof's hashes, hex")


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    summary="A signed checkpoint (C2SP note), the newest or for a tree size (role auditor or "
    "admin)",
    responses=problems((404, "no checkpoint for that size, or the ledger is empty")),
)
async def checkpoint(
    request: Request, size: Annotated[int | None, Query(ge=1, le=MAX_INDEX)] = None
) -> PlainTextResponse:
    """The signed note text: origin, size, base64 root, blank line, signature line."""
    note = await run_in_threadpool(runtime(request).ledger.checkpoint, size)
    return PlainTextResponse(note)


@router.get(
    "/public-key",
    response_class=PlainTextResponse,
    summary="The checkpoint verifier key (C2SP: name+keyid+base64(0x01 ‖ Ed25519 key)) (role "
    "auditor or admin)",
)
async def public_key(request: Request) -> PlainTextResponse:
    """Give this to `governance ledger verify --public-key` or any C2SP note verifier."""
    return PlainTextResponse(runtime(request).ledger.verifier_key + "\n")


@router.get(
    "/entries/{index}",
    summary="One entry: its exact envelope bytes and leaf hash (role auditor or admin)",
    responses=problems((404, "no such entry")),
)
async def entry(request: Request, index: Annotated[int, Path(ge=0, le=MAX_INDEX)]) -> EntryModel:
    """``envelope`` is base64 of the exact leaf bytes; ``erased`` once its payload was erased."""
    record = await run_in_threadpool(runtime(request).ledger.entry, index)
    return EntryModel(
        index=record.index,
        kind=record.kind,
        envelope=base64.b64encode(record.envelope).decode(),
        leaf_hash=record.leaf_hash.hex(),
        payload_sha256=record.payload_sha256,
        erased=record.erased,
    )


@router.get(
    "/proofs/inclusion",
    summary="RFC 9162 inclusion proof of an entry in a tree size (role auditor or admin)",
    responses=problems((404, "no such entry, or a tree size beyond the ledger")),
)
async def inclusion(
    request: Request,
    index: Annotated[int, Query(ge=0, le=MAX_INDEX)],
    size: Annotated[
        int | None, Query(ge=1, le=MAX_INDEX, description="tree size; default: current")
    ] = None,
) -> InclusionProofModel:
    """Audit path from the leaf to the root of the tree of ``size`` entries, leaf side first."""
    ledger = runtime(request).ledger
    tree_size = size if size is not None else (await run_in_threadpool(ledger.head))[0]
    hashes = await run_in_threadpool(ledger.inclusion_proof, index, tree_size)
    record = await run_in_threadpool(ledger.entry, index)
    return InclusionProofModel(
        index=index,
        tree_size=tree_size,
        leaf_hash=record.leaf_hash.hex(),
        hashes=[h.hex() for h in hashes],
    )


@router.get(
    "/proofs/consistency",
    summary="RFC 9162 consistency proof between two tree sizes (role auditor or admin)",
    responses=problems((404, "a tree size beyond the ledger")),
)
async def consistency(
    request: Request,
    from_size: Annotated[int, Query(alias="from", ge=0, le=MAX_INDEX)],
    to_size: Annotated[int, Query(alias="to", ge=0, le=MAX_INDEX)],
) -> ConsistencyProofModel:
    """Proof that the tree of ``to`` entries extends the tree of ``from`` entries."""
    hashes = await run_in_threadpool(runtime(request).ledger.consistency_proof, from_size, to_size)
    return ConsistencyProofModel(
        from_size=from_size, to_size=to_size, hashes=[h.hex() for h in hashes]
    )
