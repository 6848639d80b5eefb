"""Read-only ledger API for auditors: checkpoints, the public key, entries and proofs."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from governance.api import routing
from governance.api.deps import require, runtime
from governance.api.schemas import MAX_INDEX
from governance.auth.keys import Role

router = routing.router(
    prefix="/api/v1/ledger",
    tags=["ledger"],
    dependencies=[Depends(require(Role.AUDITOR, Role.ADMIN))],
)


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    summary="A signed checkpoint (C2SP note), the newest or for a tree size",
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
    summary="The checkpoint verifier key (C2SP: name+keyid+base64(0x01 ‖ Ed25519 key))",
)
async def public_key(request: Request) -> PlainTextResponse:
    """Give this to `governance ledger verify --public-key` or any C2SP note verifier."""
    return PlainTextResponse(runtime(request).ledger.verifier_key + "\n")


@router.get("/entries/{index}", summary="One entry: its exact envelope bytes and leaf hash")
async def entry(
    request: Request, index: Annotated[int, Path(ge=0, le=MAX_INDEX)]
) -> dict[str, Any]:
    """``envelope`` is base64 of the exact leaf bytes; ``erased`` once its payload was erased."""
    record = await run_in_threadpool(runtime(request).ledger.entry, index)
    return {
        "index": record.index,
        "kind": record.kind,
        "envelope": base64.b64encode(record.envelope).decode(),
        "leaf_hash": record.leaf_hash.hex(),
        "payload_sha256": record.payload_sha256,
        "erased": record.erased,
    }


@router.get("/proofs/inclusion", summary="RFC 9162 inclusion proof of an entry in a tree size")
async def inclusion(
    request: Request,
    index: Annotated[int, Query(ge=0, le=MAX_INDEX)],
    size: Annotated[
        int | None, Query(ge=1, le=MAX_INDEX, description="tree size; default: current")
    ] = None,
) -> dict[str, Any]:
    """Audit path from the leaf to the root of the tree of ``size`` entries, leaf side first."""
    ledger = runtime(request).ledger
    tree_size = size if size is not None else (await run_in_threadpool(ledger.head))[0]
    hashes = await run_in_threadpool(ledger.inclusion_proof, index, tree_size)
    record = await run_in_threadpool(ledger.entry, index)
    return {
        "index": index,
        "tree_size": tree_size,
        "leaf_hash": record.leaf_hash.hex(),
        "hashes": [h.hex() for h in hashes],
    }


@router.get("/proofs/consistency", summary="RFC 9162 consistency proof between two tree sizes")
async def consistency(
    request: Request,
    from_size: Annotated[int, Query(alias="from", ge=0, le=MAX_INDEX)],
    to_size: Annotated[int, Query(alias="to", ge=0, le=MAX_INDEX)],
) -> dict[str, Any]:
    """Proof that the tree of ``to`` entries extends the tree of ``from`` entries."""
    hashes = await run_in_threadpool(runtime(request).ledger.consistency_proof, from_size, to_size)
    return {"from": from_size, "to": to_size, "hashes": [h.hex() for h in hashes]}
