"""A client of the gate's HTTP API, for CI: ask for a decision, get its answer or a clear error.

Uses only the standard library, so a CI job needs nothing but this package. A transport failure,
a non-JSON answer or a problem document is :class:`GateCallFailed` with the status and the
problem's detail, never a silent allow.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from governance.errors import GovernanceError

DECISIONS_PATH = "/api/v1/gate/decisions"


class GateCallFailed(GovernanceError):
    """The gate could not be asked, or refused the request (status 0 when nothing answered)."""

    code = "gate-call"

    def __init__(self, message: str, *, status: int = 0, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


def request_decision(
    url: str, api_key: str, body: Mapping[str, Any], *, timeout: float = 60.0
) -> dict[str, Any]:
    """POST ``body`` to the gate at ``url`` (the service's base URL); the decision as JSON."""
    if not url.startswith(("http://", "https://")):
        raise GateCallFailed(f"the gate URL must be http:// or https://, not {url!r}")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url.rstrip("/") + DECISIONS_PATH,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - checked
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raise _problem(exc.code, exc.read()) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise GateCallFailed(
            f"could not reach the gate at {url}: {reason}", hint="check --url and the network"
        ) from None
    try:
        decision: dict[str, Any] = json.loads(raw)
    except ValueError:
        raise GateCallFailed("the gate answered something that is not JSON") from None
    if not isinstance(decision, dict) or not isinstance(decision.get("allow"), bool):
        raise GateCallFailed("the gate's answer has no allow: not a decision")
    return decision


def _problem(status: int, raw: bytes) -> GateCallFailed:
    try:
        problem = json.loads(raw)
        detail = problem.get("detail") or problem.get("title") or ""
        errors = problem.get("errors") or []
        if errors:
            detail += "; " + "; ".join(f"{e.get('path')}: {e.get('message')}" for e in errors)
    except (ValueError, AttributeError):
        detail = raw[:200].decode(errors="replace")
    hints = {401: "check the API key", 403: "the key needs the role gate (or admin)"}
    return GateCallFailed(
        f"the gate refused the request ({status}): {detail}", status=status, hint=hints.get(status)
    )
