"""``SigstoreBackend`` with sigstore-python: certificate bundles, log entries, timestamps. Offline.

Trust is the ``trusted_root.json`` document the caller passes (pinned in the trust
configuration); this module never builds a verifier from TUF (``Verifier.production(offline=
True)`` reads the user-writable cache). The ``sigstore`` calls used here make no network
requests: ``Verifier.verify_artifact``/``verify_dsse`` check the certificate chain, SCT,
inclusion proof, checkpoint and promise with local material only.

sigstore-python reports most failures as ``VerificationError`` with a message; ``classify``
maps them to ``Reason`` codes. The identity policy is wrapped so that a policy rejection is told
apart from everything else without reading messages.

Key-signed bundles (no certificate) are refused by ``sigstore.models.Bundle``; for those,
``verify_transparency`` runs sigstore's log-entry verification (Merkle inclusion, signed
checkpoint, SET) and RFC 3161 timestamp verification on the raw bundle model. Those are private
sigstore APIs (``TransparencyLogEntry._verify``); the version is pinned below 5 in
pyproject.toml and the integration tests exercise them.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography.hazmat import asn1
from cryptography.x509 import (
    Certificate,
    ExtensionNotFound,
    ObjectIdentifier,
    OtherName,
    RFC822Name,
    SubjectAlternativeName,
    UniformResourceIdentifier,
)
from rfc3161_client import VerificationError as Rfc3161VerificationError
from rfc3161_client import VerifierBuilder, decode_timestamp_response
from sigstore._internal.timestamp import TimestampSource, TimestampVerificationResult
from sigstore._internal.trust import KeyringPurpose
from sigstore.errors import CertValidationError, Error, VerificationError
from sigstore.hashes import Hashed
from sigstore.models import Bundle, InvalidBundle, TransparencyLogEntry, TrustedRoot
from sigstore.verify import Verifier as SigstoreVerifier
from sigstore.verify.policy import AnyOf, Identity, VerificationPolicy
from sigstore_models.bundle.v1 import Bundle as RawBundle
from sigstore_models.common.v1 import HashAlgorithm
from sigstore_models.trustroot import v1 as trustroot_v1

from governance.attestations.engines import (
    CertifiedSigner,
    KeylessResult,
    LogEntryFacts,
    TransparencyFacts,
)
from governance.attestations.reasons import Reason, VerificationFailed
from governance.attestations.trust import AllowedIdentity
from governance.errors import ConfigError

__all__ = ["SigstorePythonBackend", "classify"]

_OIDC_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
_OIDC_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
_SIGSTORE_OTHERNAME = ObjectIdentifier("1.3.6.1.4.1.57264.1.7")
_SOURCE_REPOSITORY_URI = ObjectIdentifier("1.3.6.1.4.1.57264.1.12")
_SOURCE_REPOSITORY_DIGEST = ObjectIdentifier("1.3.6.1.4.1.57264.1.13")
_SOURCE_REPOSITORY_REF = ObjectIdentifier("1.3.6.1.4.1.57264.1.14")
_MAX_TIMESTAMPS = 32  # as sigstore.verify.verifier.MAX_ALLOWED_TIMESTAMP


class _IdentityRejected(VerificationError):
    """The certificate is valid but its signer is not on the allow-list."""


_established = threading.local()


class _TimeRecordingVerifier(SigstoreVerifier):
    """A sigstore ``Verifier`` that keeps the verified times it established for the bundle.

    Saves verifying every RFC 3161 timestamp twice (about a third of the cost of a TSA bundle).
    If a sigstore release stops calling ``_establish_time``, nothing is recorded and the
    timestamps are verified again instead (``_transparency``).
    """

    def _establish_time(self, bundle: Bundle) -> list[TimestampVerificationResult]:
        results = super()._establish_time(bundle)
        _established.results = results
        return results


def certificate_sans(cert: Certificate) -> tuple[str, ...]:
    """The identities Sigstore binds into a certificate (as ``policy.Identity`` reads them)."""
    try:
        san = cert.extensions.get_extension_for_class(SubjectAlternativeName).value
    except ExtensionNotFound:
        return ()
    values = [
        *san.get_values_for_type(RFC822Name),
        *san.get_values_for_type(UniformResourceIdentifier),
    ]
    values.extend(
        o.value.decode(errors="replace")
        for o in san.get_values_for_type(OtherName)
        if o.type_id == _SIGSTORE_OTHERNAME
    )
    return tuple(values)


def _fulcio_v2(cert: Certificate, oid: ObjectIdentifier) -> str | None:
    """A Fulcio extension whose value is a DER UTF8String."""
    try:
        raw = cert.extensions.get_extension_for_oid(oid).value
        return str(asn1.decode_der(str, raw.value))  # type: ignore[attr-defined]
    except (ExtensionNotFound, ValueError):
        return None


def certificate_issuer(cert: Certificate) -> str | None:
    """The OIDC issuer: the v1 extension (raw string) or the v2 one (DER UTF8String)."""
    try:
        raw = cert.extensions.get_extension_for_oid(_OIDC_ISSUER_V1).value
        return bytes(raw.value).decode()  # type: ignore[attr-defined]
    except ExtensionNotFound:
        return _fulcio_v2(cert, _OIDC_ISSUER_V2)


class _IdentityPattern:
    """Issuer equal, and some SAN fully matching a regular expression."""

    def __init__(self, rule: AllowedIdentity) -> None:
        self._rule = rule

    def verify(self, cert: Certificate) -> None:
        issuer = certificate_issuer(cert)
        if not any(self._rule.matches(san, issuer) for san in certificate_sans(cert)):
            raise VerificationError(
                f"no SAN matches {self._rule.identity_regex!r} with issuer {self._rule.issuer}"
            )


class _AllowList:
    """``AnyOf`` the allowed identities; a rejection is raised as ``_IdentityRejected``."""

    def __init__(self, rules: Sequence[AllowedIdentity]) -> None:
        if not rules:
            raise ValueError("an empty allow-list allows nobody")
        children: list[VerificationPolicy] = [
            Identity(identity=r.identity, issuer=r.issuer)
            if r.identity is not None
            else _IdentityPattern(r)
            for r in rules
        ]
        self._policy = AnyOf(children)

    def verify(self, cert: Certificate) -> None:
        try:
            self._policy.verify(cert)
        except VerificationError as exc:
            sans = ", ".join(certificate_sans(cert)) or "(none)"
            raise _IdentityRejected(
                f"signer {sans} (issuer {certificate_issuer(cert)}) is not allowed: {exc}"
            ) from exc


# (reason, substrings of sigstore-python 4.x messages), most specific first.
_BUNDLE_MESSAGES: tuple[tuple[Reason, tuple[str, ...]], ...] = (
    (Reason.UNSUPPORTED_FORMAT, ("unsupported bundle format", "mediaType")),
    (Reason.NO_TRUSTED_TIME, ("inclusion promise or signed timestamp",)),
)
_MESSAGES: tuple[tuple[Reason, tuple[str, ...]], ...] = (
    (Reason.NO_TRUSTED_TIME, ("sources of verified time", "no Timestamp Authorities")),
    (Reason.CERTIFICATE_UNTRUSTED, ("timestamp certificate chain", "SCT", "invalid signing cert")),
    (Reason.CERTIFICATE_UNTRUSTED, ("Key usage", "Extended usage", "Fulcio certificates")),
    (Reason.TLOG_INCLUSION_INVALID, ("invalid log entry", "inconsistent with other materials")),
    (Reason.TLOG_INCLUSION_INVALID, ("log entry payload hash", "log entry signatures")),
    (Reason.TLOG_INCLUSION_INVALID, ("Unsupported DSSE log entry", "Expected entry type")),
    (Reason.TLOG_INCLUSION_INVALID, ("Unsupported hashedrekord", "Integrated time only")),
    (Reason.SUBJECT_MISMATCH, ("message digest mismatch",)),
    (Reason.SIGNATURE_INVALID, ("Signature is invalid", "DSSE: invalid signature")),
    (Reason.MALFORMED_BUNDLE, ("without a DSSE envelope", "Missing bundle message signature")),
)


def classify(exc: BaseException) -> Reason:
    """The ``Reason`` for an exception raised by sigstore-python while verifying."""
    if isinstance(exc, _IdentityRejected):
        return Reason.IDENTITY_NOT_ALLOWED
    message = str(exc)
    if isinstance(exc, InvalidBundle):
        table, default = _BUNDLE_MESSAGES, Reason.MALFORMED_BUNDLE
    else:
        table, default = _MESSAGES, Reason.VERIFICATION_ERROR
    for reason, fragments in table:
        if any(f in message for f in fragments):
            return reason
    if isinstance(exc, CertValidationError):
        return Reason.CERTIFICATE_UNTRUSTED
    return default


def _failed(exc: BaseException, where: str) -> VerificationFailed:
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return VerificationFailed(classify(exc), f"{where}: {detail}")


class SigstorePythonBackend:
    """``governance.attestations.engines.SigstoreBackend`` on sigstore-python 4.x."""

    def __init__(self, *, cache_size: int = 8) -> None:
        self._cache: OrderedDict[str, tuple[TrustedRoot, SigstoreVerifier | None]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _root(self, document: bytes) -> tuple[TrustedRoot, SigstoreVerifier | None]:
        """Parse a trusted root once per distinct document (and build its verifier)."""
        key = hashlib.sha256(document).hexdigest()
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        try:
            root = TrustedRoot(trustroot_v1.TrustedRoot.from_json(document))
        except (Error, ValueError) as exc:
            # The pinned configuration is broken, not the submitted attestation.
            raise ConfigError(f"trusted root unusable by sigstore: {exc}") from None
        verifier: SigstoreVerifier | None
        try:
            verifier = _TimeRecordingVerifier(trusted_root=root)
        except (Error, ValueError):
            verifier = None  # e.g. a private root with keys for logs but no Fulcio CA
        with self._lock:
            self._cache[key] = (root, verifier)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return root, verifier

    def _verifier(self, document: bytes) -> SigstoreVerifier:
        _, verifier = self._root(document)
        if verifier is None:
            raise VerificationFailed(
                Reason.CERTIFICATE_UNTRUSTED, "the trusted root has no certificate authority"
            )
        return verifier

    @staticmethod
    def _bundle(data: bytes) -> Bundle:
        try:
            return Bundle.from_json(data)
        except (Error, ValueError, TypeError, KeyError) as exc:
            raise _failed(exc, "bundle") from None

    def verify_artifact(
        self,
        bundle: bytes,
        sha256: bytes,
        *,
        trusted_root: bytes,
        identities: Sequence[AllowedIdentity],
    ) -> KeylessResult:
        """``Verifier.verify_artifact`` over the artifact's SHA-256, with the allow-list."""
        verifier = self._verifier(trusted_root)
        parsed = self._bundle(bundle)
        hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=sha256)
        _established.results = None
        try:
            verifier.verify_artifact(hashed, parsed, _AllowList(identities))
        except (Error, ValueError) as exc:
            raise _failed(exc, "sigstore") from None
        return KeylessResult(_signer(parsed), _transparency(parsed, self._root(trusted_root)[0]))

    def verify_dsse(
        self, bundle: bytes, *, trusted_root: bytes, identities: Sequence[AllowedIdentity]
    ) -> KeylessResult:
        """``Verifier.verify_dsse`` with the allow-list; the payload is returned unchecked."""
        verifier = self._verifier(trusted_root)
        parsed = self._bundle(bundle)
        _established.results = None
        try:
            payload_type, payload = verifier.verify_dsse(parsed, _AllowList(identities))
        except (Error, ValueError) as exc:
            raise _failed(exc, "sigstore") from None
        facts = _transparency(parsed, self._root(trusted_root)[0])
        return KeylessResult(_signer(parsed), facts, payload_type, payload)

    def verify_transparency(
        self, bundle: bytes, *, trusted_root: bytes, signature: bytes
    ) -> TransparencyFacts:
        """Log entries (inclusion proof, signed checkpoint, SET) and RFC 3161 timestamps."""
        root, _ = self._root(trusted_root)
        try:
            raw = RawBundle.from_json(bundle)
        except ValueError as exc:
            raise _failed(exc, "bundle") from None
        material = raw.verification_material
        entries = []
        for inner in material.tlog_entries or []:
            try:
                entry = TransparencyLogEntry(inner)
                entry._verify(root.rekor_keyring(KeyringPurpose.VERIFY))
            except (Error, ValueError) as exc:
                raise VerificationFailed(
                    Reason.TLOG_INCLUSION_INVALID
                    if not isinstance(exc, InvalidBundle)
                    else Reason.MALFORMED_BUNDLE,
                    f"log entry {inner.log_index}: {exc}",
                ) from None
            entries.append(_entry_facts(entry))
        data = material.timestamp_verification_data
        responses = [t.signed_timestamp for t in (data.rfc3161_timestamps if data else []) or []]
        return TransparencyFacts(tuple(entries), _verified_timestamps(root, responses, signature))


def _signer(bundle: Bundle) -> CertifiedSigner:
    cert = bundle.signing_certificate
    return CertifiedSigner(
        certificate_sans(cert),
        certificate_issuer(cert),
        source_repo=_fulcio_v2(cert, _SOURCE_REPOSITORY_URI),
        source_ref=_fulcio_v2(cert, _SOURCE_REPOSITORY_REF),
        source_commit=_fulcio_v2(cert, _SOURCE_REPOSITORY_DIGEST),
    )


def _entry_facts(entry: TransparencyLogEntry) -> LogEntryFacts:
    inner = entry._inner
    kind, version = inner.kind_version.kind, inner.kind_version.version
    integrated = None
    # As sigstore's Verifier: integrated time counts only under a (verified) promise, v1 entries.
    if inner.inclusion_promise and inner.integrated_time and version == "0.0.1":
        integrated = datetime.fromtimestamp(int(inner.integrated_time), tz=UTC)
    return LogEntryFacts(kind, version, inner.canonicalized_body, int(inner.log_index), integrated)


def _transparency(bundle: Bundle, root: TrustedRoot) -> TransparencyFacts:
    """The facts of a bundle sigstore has just verified: its log entry and verified timestamps.

    sigstore silently skips timestamps that do not verify; only those it counted are reported.
    """
    recorded: list[TimestampVerificationResult] | None = getattr(_established, "results", None)
    _established.results = None
    if recorded is not None:
        times = tuple(r.time for r in recorded if r.source is TimestampSource.TIMESTAMP_AUTHORITY)
    else:
        data = bundle.verification_material.timestamp_verification_data
        responses = [t.as_bytes() for t in data.rfc3161_timestamps] if data is not None else []
        times = _verified_timestamps(root, responses, bundle.signature)
    return TransparencyFacts((_entry_facts(bundle.log_entry),), times)


def _verified_timestamps(
    root: TrustedRoot, responses: Sequence[bytes], signature: bytes
) -> tuple[datetime, ...]:
    """Timestamps over ``signature`` that chain to one of the root's TSAs (others are dropped).

    The same rules as ``sigstore.verify.Verifier._verify_signed_timestamp``.
    """
    if len(responses) > _MAX_TIMESTAMPS:
        raise VerificationFailed(Reason.MALFORMED_BUNDLE, "too many signed timestamps")
    if len(set(responses)) != len(responses):
        raise VerificationFailed(Reason.MALFORMED_BUNDLE, "duplicate signed timestamps")
    verified = []
    for raw in responses:
        try:
            response = decode_timestamp_response(raw)
        except ValueError:
            raise VerificationFailed(Reason.MALFORMED_BUNDLE, "unreadable timestamp") from None
        for authority in root.get_timestamp_authorities():
            certificates = authority.certificates(allow_expired=True)
            if len(certificates) < 2:
                continue
            builder = (
                VerifierBuilder()
                .tsa_certificate(certificates[0])
                .add_root_certificate(certificates[-1])
            )
            for intermediate in certificates[1:-1]:
                builder = builder.add_intermediate_certificate(intermediate)
            try:
                builder.build().verify_message(response, signature)
            except Rfc3161VerificationError:
                continue
            when = response.tst_info.gen_time
            end = authority.validity_period_end
            if authority.validity_period_start <= when and (end is None or when < end):
                verified.append(when)
                break
    return tuple(verified)
