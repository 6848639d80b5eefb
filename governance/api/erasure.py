"""Erasure of an entry's payload over HTTP (admin): the same service as ``ledger erase``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from governance.api import routing
from governance.api.deps import require, runtime, submitter
from governance.api.openapi import problems
from governance.api.schemas import MAX_INDEX, ReceiptModel
from governance.auth.keys import Principal, Role

router = routing.router(prefix="/api/v1/ledger/entries", tags=["ledger"])


class ErasureRequest(BaseModel):
    """Why the payload is erased (recorded in the ledger as the erasure entry's payload)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, examples=["GDPR Art. 17 request #4711"])


class ErasureResponse(BaseModel):
    """What was erased, the erasure entry's receipt, and the projections being rebuilt."""

    erased: int = Field(description="the entry whose payload was erased")
    kind: str = Field(description="its kind")
    receipt: ReceiptModel = Field(description="receipt of the erasure entry")
    rebuilding: list[str] = Field(
        description="projections emptied to be rebuilt without the entry (by the server's "
        "follower, in the background)"
    )


@router.post(
    "/{index}/erasure",
    status_code=201,
    summary="Erase an entry's payload, e.g. GDPR Art. 17 (role admin)",
    responses={
        200: {"model": ErasureResponse, "description": "the entry was erased before"},
        **problems(
            403,
            (404, "no such entry"),
            (409, "the entry was erased before, for another reason"),
            503,
        ),
    },
)
async def erase(
    request: Request,
    response: Response,
    index: Annotated[int, Path(ge=0, le=MAX_INDEX)],
    body: ErasureRequest,
    principal: Annotated[Principal, Depends(require(Role.ADMIN))],
) -> ErasureResponse:
    """Delete the payload and append an erasure entry; the envelope, chain and tree stay.

    Every projection forgets what the payload said, as with ``governance ledger erase``. Erasing
    an erased entry again changes nothing and answers 200 with the first erasure's receipt.
    """
    erasure = await run_in_threadpool(
        runtime(request).erasure.erase, index, body.reason, submitter(principal)
    )
    response.status_code = 200 if erasure.receipt.duplicate else 201
    return ErasureResponse.model_validate(erasure.to_json())
