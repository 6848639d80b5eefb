"""Signers named by certificates: their identities, and the allow-list that admits them.

A Fulcio certificate's identities come from the Sigstore backend; a model-signing certificate
(certificate mode, a private PKI) is read here (``certificate_identity``). Either way the
signer must be on the purpose's allow-list (``allowed_signer``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from governance.attestations.reasons import Reason, VerificationFailed
from governance.attestations.trust import AllowedIdentity

__all__ = ["allowed_signer", "certificate_identity", "not_before"]

_SIGSTORE_OTHERNAME = ObjectIdentifier("1.3.6.1.4.1.57264.1.7")


def allowed_signer(
    sans: Sequence[str], issuer: str | None, rules: Sequence[AllowedIdentity]
) -> str:
    """The first identity of the certificate that the allow-list accepts.

    Raises ``identity_not_allowed`` when the allow-list accepts none.
    """
    for rule in rules:
        for san in sans:
            if rule.matches(san, issuer):
                return san
    raise VerificationFailed(
        Reason.IDENTITY_NOT_ALLOWED,
        f"signer {', '.join(sans) or '(none)'} (issuer {issuer}) is not allowed",
    )


def certificate_identity(der: bytes) -> tuple[tuple[str, ...], str]:
    """The identities of a (non-Fulcio) certificate and its issuer's distinguished name.

    Identities are the SAN values (email, URI, DNS, Sigstore other-name); a certificate without
    SANs is identified by its subject DN (RFC 4514), as PKI certificates for model signing are.
    """
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise VerificationFailed(
            Reason.MALFORMED_BUNDLE, f"signing certificate unreadable: {exc}"
        ) from None
    sans: list[str] = []
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans.extend(ext.get_values_for_type(x509.RFC822Name))
        sans.extend(ext.get_values_for_type(x509.UniformResourceIdentifier))
        sans.extend(ext.get_values_for_type(x509.DNSName))
        sans.extend(
            o.value.decode(errors="replace")
            for o in ext.get_values_for_type(x509.OtherName)
            if o.type_id == _SIGSTORE_OTHERNAME
        )
    except x509.ExtensionNotFound:
        pass
    return tuple(sans) or (cert.subject.rfc4514_string(),), cert.issuer.rfc4514_string()


def not_before(der: bytes) -> datetime:
    """The start of a certificate's validity (UTC)."""
    return x509.load_der_x509_certificate(der).not_valid_before_utc
