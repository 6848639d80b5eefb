"""Response documents shared by several routes (API schemas, not tables)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from governance.sql import MAX_BIGINT as MAX_INDEX

__all__ = ["MAX_INDEX", "ReceiptModel"]


class ReceiptModel(BaseModel):
    """Proof that an entry is in the ledger: verify the leaf against the checkpoint's root."""

    index: int = Field(description="the entry's ledger index")
    kind: str = Field(description="the entry's kind")
    leaf_hash: str = Field(description="SHA-256(0x00 ‖ envelope), hex")
    sha256: str = Field(description="SHA-256 of the payload, hex")
    tree_size: int = Field(description="size of the tree the checkpoint and the proof are for")
    checkpoint: str = Field(description="the signed checkpoint note (C2SP tlog-checkpoint)")
    inclusion_proof: list[str] = Field(description="RFC 9162 audit path, leaf side first, hex")
    duplicate: bool = Field(description="true when this answers a retry of a recorded entry")
