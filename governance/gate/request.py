"""What CI asks the gate: a model, where it is to go, and how (``POST /api/v1/gate/decisions``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from governance.policy.input import Use

#: An identifier: printable, no control character (see :mod:`governance.text`).
_IDENTIFIER = r"^[^\x00-\x1f\x7f-\x9f]+$"
DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"

Mode = Literal["enforce", "dry_run", "break_glass"]
Strategy = Literal["direct", "canary", "blue_green"]
Framework = Literal["gdpr", "uae_pdpl", "iso27001"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LineageRef(_Request):
    """The model's node in the lineage graph: the dataset its training run wrote."""

    namespace: str = Field(min_length=1, max_length=1024, pattern=_IDENTIFIER)
    name: str = Field(min_length=1, max_length=1024, pattern=_IDENTIFIER)


class ModelRef(_Request):
    """The model asked to be promoted, by digest; its lineage node, purpose and use."""

    name: str = Field(min_length=1, max_length=200, pattern=_IDENTIFIER)
    version: str = Field(min_length=1, max_length=200, pattern=_IDENTIFIER)
    digest: str = Field(
        pattern=DIGEST_PATTERN, description="sha256:<64 lowercase hex> of the model artifact"
    )
    lineage: LineageRef | None = Field(
        None, description="where the evidence comes from; without it the lineage controls fail"
    )
    purpose: str | None = Field(None, max_length=200, pattern=_IDENTIFIER)
    use: Use = Use()


class GateRequest(_Request):
    """A request for a promotion decision."""

    model: ModelRef
    target: str = Field(
        min_length=1, max_length=64, pattern=_IDENTIFIER, examples=["production", "staging"]
    )
    strategy: Strategy = "direct"
    change_ref: str | None = Field(None, max_length=200, pattern=_IDENTIFIER)
    initiator: str | None = Field(
        None,
        max_length=200,
        pattern=_IDENTIFIER,
        description="the person who triggered the pipeline (may not approve or waive)",
    )
    frameworks: list[Framework] | None = Field(
        None,
        min_length=1,
        description="evaluate only these; default every applicable framework (never widens)",
    )
    mode: Mode = Field(
        "enforce",
        description="enforce; dry_run (recorded, allow is true); break_glass (role admin, "
        "reason required: allows, and is flagged)",
    )
    reason: str | None = Field(None, min_length=1, max_length=2000)
