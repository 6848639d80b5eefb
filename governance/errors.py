"""The service's one error tree.

Every failure the service reports on purpose is one of these. The HTTP layer maps them to
RFC 9457 problem documents in ``governance.api.errors``; the CLI maps them to exit codes in
``governance.cli.main``. Anything else is a bug and is reported as an opaque 500 / exit 2.

::

    GovernanceError
    ├── ConfigError               settings or key material unusable            (exit 2)
    ├── InputError                the request is wrong; nothing was changed    (400)
    │   ├── NotFound              no such thing                                (404)
    │   ├── PayloadTooLarge       body or field over a limit                   (413)
    │   └── UnsupportedMediaType  body type not accepted                       (415)
    ├── Conflict                  contradicts something already recorded       (409)
    ├── AuthError
    │   ├── Unauthenticated       no key, or an unknown / revoked key          (401)
    │   └── Forbidden             a valid key without the needed role          (403)
    ├── Unavailable               temporarily saturated or not ready; retry    (503)
    ├── LedgerError
    │   ├── ProofError            a Merkle proof does not verify               (verification)
    │   ├── CheckpointError       a signed note is malformed or its signature is wrong
    │   └── IntegrityError        stored ledger state contradicts itself
    └── CallFailed                a CLI client's call to a service failed      (exit 2)
        └── GateCallFailed        ... the gate's (``governance.gate.client``)

``CallFailed`` lives with the client (``governance.http_call``); the service never raises it.
"""

from __future__ import annotations


class GovernanceError(Exception):
    """Base of every error the service raises on purpose."""

    #: Short machine-readable slug used in problem types and logs.
    code: str = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(GovernanceError):
    """Settings or key material are missing or unusable."""

    code = "config"


class InputError(GovernanceError):
    """The caller sent something invalid; nothing was changed."""

    code = "invalid-input"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.errors = errors or []


class NotFound(InputError):
    """The named resource does not exist."""

    code = "not-found"


class PayloadTooLarge(InputError):
    """A body, or a part of one, exceeds a configured limit."""

    code = "payload-too-large"


class UnsupportedMediaType(InputError):
    """The body's media type is not accepted here."""

    code = "unsupported-media-type"


class Conflict(GovernanceError):
    """The request contradicts something already recorded (e.g. a reused idempotency key)."""

    code = "conflict"


class AuthError(GovernanceError):
    """Authentication or authorisation failed."""

    code = "auth"


class Unauthenticated(AuthError):
    """No credentials, or credentials that match no active API key."""

    code = "unauthenticated"


class Forbidden(AuthError):
    """Valid credentials whose role does not allow the operation."""

    code = "forbidden"


class Unavailable(GovernanceError):
    """The service cannot take the request right now; the caller should retry later."""

    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 1, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class LedgerError(GovernanceError):
    """Base of ledger verification and consistency failures."""

    code = "ledger"


class ProofError(LedgerError):
    """A Merkle inclusion or consistency proof does not verify."""

    code = "proof-invalid"


class CheckpointError(LedgerError):
    """A signed checkpoint is malformed, signed by another key, or its signature is wrong."""

    code = "checkpoint-invalid"


class IntegrityError(LedgerError):
    """Stored ledger state contradicts itself (found while appending or proving)."""

    code = "integrity"
