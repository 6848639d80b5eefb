"""One JSON POST to a governance service, for the CLI's clients (``gate``, ``attest submit``).

Uses only the standard library, so a CI job needs nothing but this package. Every way the call
can go wrong is :class:`CallFailed` naming the service and what happened, never a bare traceback:

* the URL is not ``http://`` or ``https://``, or is malformed;
* the service could not be reached (no request was sent: name resolution, connecting, TLS);
* the request was sent but no answer came within the timeout (the service may still have acted
  on it: a decision or a verdict may have been recorded);
* the connection broke before a whole answer arrived;
* the service refused the request or failed (a problem document: its status and detail, and the
  body, so a caller can show it);
* the service answered 2xx with something that is not JSON.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from governance.errors import GovernanceError

__all__ = ["CallFailed", "post_json"]

#: What a refusal most often means, by status.
_HINTS = {
    401: "check the API key",
    503: "the service is busy or not ready: ask again",
}


class CallFailed(GovernanceError):
    """A service could not be asked, or refused the request (status 0 when nothing answered)."""

    code = "service-call"

    def __init__(
        self, message: str, *, status: int = 0, body: bytes = b"", hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        #: The refusal's body (a problem document), empty when nothing answered.
        self.body = body


def post_json(
    url: str,
    path: str,
    api_key: str,
    body: Mapping[str, Any],
    *,
    timeout: float,
    service: str = "the service",
    awaited: str = "the answer",
    pending: str = "it may have been recorded anyway",
    hints: Mapping[int, str] | None = None,
) -> Any:
    """POST ``body`` as JSON to ``url`` (a base URL) + ``path``; the 2xx answer, parsed.

    Messages name ``service`` (``the gate``) and what was ``awaited`` (``the decision``);
    ``pending`` says what to check when the request went out but no answer came back; ``hints``
    add to the hints per status of a refusal. Anything else is :class:`CallFailed` (module
    docstring).
    """
    if not url.startswith(("http://", "https://")):
        raise CallFailed(f"the URL of {service} must be http:// or https://, not {url!r}")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url.rstrip("/") + path,
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
        raise _refusal(service, exc.code, _error_body(exc), {**_HINTS, **(hints or {})}) from None
    except urllib.error.URLError as exc:
        # urllib wraps what fails before the request is sent: resolving, connecting, TLS.
        raise CallFailed(
            f"could not reach {service} at {url}: {exc.reason}", hint="check --url and the network"
        ) from None
    except TimeoutError:
        # Raised bare once the request is out: the service has it and may have acted on it.
        raise CallFailed(
            f"timed out after {timeout:g} s waiting for {awaited} from {service} at {url}",
            hint=f"{pending}; ask again, with a longer --timeout if {service} is slow",
        ) from None
    except (OSError, http.client.HTTPException) as exc:
        raise CallFailed(
            f"the connection to {service} at {url} broke before it answered: "
            f"{type(exc).__name__}: {exc}",
            hint=f"ask again; {pending}",
        ) from None
    except ValueError as exc:  # http.client.InvalidURL, a malformed IPv6 literal
        raise CallFailed(f"the URL of {service} {url!r} is not valid: {exc}") from None
    try:
        return json.loads(raw)
    except ValueError:
        raise CallFailed(f"{service} answered something that is not JSON") from None


def _error_body(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read()
    except (OSError, http.client.HTTPException):
        return b""


def _refusal(service: str, status: int, raw: bytes, hints: Mapping[int, str]) -> CallFailed:
    try:
        problem = json.loads(raw)
        detail = problem.get("detail") or problem.get("title") or ""
        errors = problem.get("errors") or []
        if errors:
            detail += "; " + "; ".join(f"{e.get('path')}: {e.get('message')}" for e in errors)
    except (ValueError, AttributeError, TypeError):
        detail = raw[:200].decode(errors="replace")
    what = "failed" if status >= 500 else "refused the request"
    return CallFailed(
        f"{service} {what} ({status}): {detail}", status=status, body=raw, hint=hints.get(status)
    )
