"""Why a verification failed: an enumerated set of reason codes, and the error that carries one.

The codes are part of the service's contract: they are recorded in the ledger with every failed
verdict and returned in the 422 problem document, so a code is never renamed or reused.
"""

from __future__ import annotations

from enum import StrEnum

from governance.errors import GovernanceError

__all__ = ["Reason", "VerificationFailed"]


class Reason(StrEnum):
    """A failure reason code. ``summary`` is a one-line explanation for people."""

    MALFORMED_BUNDLE = "malformed_bundle"
    UNSUPPORTED_FORMAT = "unsupported_format"
    SIGNATURE_INVALID = "signature_invalid"
    CERTIFICATE_UNTRUSTED = "certificate_untrusted"
    IDENTITY_NOT_ALLOWED = "identity_not_allowed"
    SUBJECT_MISMATCH = "subject_mismatch"
    TLOG_INCLUSION_INVALID = "tlog_inclusion_invalid"
    NO_TRUSTED_TIME = "no_trusted_time"
    KEY_UNKNOWN = "key_unknown"
    KEY_NOT_VALID_AT_SIGNING_TIME = "key_not_valid_at_signing_time"
    ARTIFACT_MISSING = "artifact_missing"
    CHAIN_MISSING = "chain_missing"
    PREDICATE_UNSUPPORTED = "predicate_unsupported"
    TRUSTED_ROOT_UNKNOWN = "trusted_root_unknown"
    VERIFICATION_ERROR = "verification_error"

    @property
    def summary(self) -> str:
        """A one-line explanation of the code."""
        return _SUMMARIES[self]


_SUMMARIES: dict[Reason, str] = {
    Reason.MALFORMED_BUNDLE: "the bundle or envelope is not well-formed",
    Reason.UNSUPPORTED_FORMAT: "the bundle version, payload type or statement type is unsupported",
    Reason.SIGNATURE_INVALID: "the signature does not verify over the signed content",
    Reason.CERTIFICATE_UNTRUSTED: "the signing certificate does not chain to a trusted root",
    Reason.IDENTITY_NOT_ALLOWED: "the signer identity is not allowed for this purpose",
    Reason.SUBJECT_MISMATCH: "the signed subject is not the expected artifact",
    Reason.TLOG_INCLUSION_INVALID: "the transparency-log entry or its proofs do not verify",
    Reason.NO_TRUSTED_TIME: "no verifiable time of signing",
    Reason.KEY_UNKNOWN: "no registered key for this purpose matches the signature",
    Reason.KEY_NOT_VALID_AT_SIGNING_TIME: "the signing key was not valid when it signed",
    Reason.ARTIFACT_MISSING: "the artifact (or its digest) needed to verify is missing",
    Reason.CHAIN_MISSING: "no certificate chain is configured for this purpose",
    Reason.PREDICATE_UNSUPPORTED: "the predicate is not the expected one, or is unreadable",
    Reason.TRUSTED_ROOT_UNKNOWN: "the requested trusted root is not configured",
    Reason.VERIFICATION_ERROR: "the verifier rejected the bundle for an unclassified reason",
}


class VerificationFailed(GovernanceError):
    """An attestation did not verify; ``reason`` says why in one code, ``detail`` in words."""

    code = "attestation-invalid"

    def __init__(self, reason: Reason, detail: str, *, hint: str | None = None) -> None:
        super().__init__(f"{reason.value}: {detail}", hint=hint)
        self.reason = reason
        self.detail = detail
