"""``ModelSigningBackend`` with OpenSSF model-signing 1.x: key, certificate and Sigstore modes.

model-signing's public API (``model_signing.verifying.Config``) verifies the signature in the
chosen mode, expands the signed in-toto statement into a manifest and re-hashes the model. Two
known behaviours of 1.1.1 are handled here:

* the hashing configuration is read from the signed manifest and set explicitly: the library's
  own guess crashes on shard hashing (``shard_size`` arrives as a float from the JSON payload);
* certificate mode falls back to the public web roots (``certifi``) without a chain and checks
  no signer identity; the orchestrator always passes the purpose's chain and checks the leaf's
  identity itself, and this adapter refuses an empty chain.

Sigstore mode gets a client trust configuration built from the pinned trusted root, so the
library never consults TUF. The library reads keys, chains, trust configurations and signatures
from files; they are written to a private temporary directory for the call.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from model_signing import hashing, verifying
from model_signing._signing import signing as ms_signing
from OpenSSL.crypto import X509StoreContextError
from sigstore.errors import Error as SigstoreError

from adapters.sigstore_backend import classify as classify_sigstore
from governance.attestations.reasons import Reason, VerificationFailed
from governance.attestations.trust import CLIENT_TRUST_CONFIG_MEDIA_TYPE
from governance.attestations.verify import (
    CertificateMode,
    KeyMode,
    ModelFacts,
    ModelSigningMode,
    SigstoreMode,
)

__all__ = ["ModelSigningPythonBackend"]

# model-signing only reads the trusted root from a client trust config; signing is never done.
_SIGNING_CONFIG = {"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json"}

# (reason, substrings of model-signing 1.x ValueError messages), most specific first.
_MESSAGES: tuple[tuple[Reason, tuple[str, ...]], ...] = (
    (Reason.SUBJECT_MISMATCH, ("Signature mismatch",)),
    (Reason.KEY_UNKNOWN, ("Key mismatch",)),
    (Reason.CERTIFICATE_UNTRUSTED, ("cannot be used for signing",)),
    (Reason.PREDICATE_UNSUPPORTED, ("Predicate type mismatch",)),
    (Reason.UNSUPPORTED_FORMAT, ("Expected DSSE payload", "Expected in-toto", "Unsupported key")),
    (Reason.UNSUPPORTED_FORMAT, ("Unknown serialization type", "Cannot guess the hashing")),
    (Reason.MALFORMED_BUNDLE, ("Manifest is inconsistent", "Expected only one subject")),
)


def _classify(exc: BaseException) -> Reason:
    if isinstance(exc, InvalidSignature):
        return Reason.SIGNATURE_INVALID
    if isinstance(exc, X509StoreContextError):
        return Reason.CERTIFICATE_UNTRUSTED
    if isinstance(exc, SigstoreError):
        return classify_sigstore(exc)
    message = str(exc)
    for reason, fragments in _MESSAGES:
        if any(f in message for f in fragments):
            return reason
    return Reason.VERIFICATION_ERROR


def _signed_statement(signature: bytes) -> dict[str, Any]:
    """The in-toto statement inside the signature (unverified: used to configure hashing)."""
    try:
        bundle = json.loads(signature)
        statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise VerificationFailed(Reason.MALFORMED_BUNDLE, f"model signature: {exc!r}") from None
    if not isinstance(statement, dict):
        raise VerificationFailed(
            Reason.MALFORMED_BUNDLE, "model signature: statement not an object"
        )
    return statement


def hashing_config(statement: Mapping[str, Any], ignore_paths: Sequence[str]) -> hashing.Config:
    """The hashing configuration the signer used, as recorded in the signed manifest.

    The legacy ``Digests/v0.1`` predicate records none: it was always files + SHA-256.
    ``ignore_paths`` from the manifest are added by model-signing itself while verifying.
    """
    predicate = statement.get("predicate") or {}
    serialization = predicate.get("serialization") if isinstance(predicate, dict) else None
    if not isinstance(serialization, dict):
        serialization = {"method": "files", "hash_type": "sha256", "allow_symlinks": False}
    method = serialization.get("method")
    algorithm = serialization.get("hash_type", "sha256")
    allow_symlinks = bool(serialization.get("allow_symlinks", False))
    config = hashing.Config()  # type: ignore[no-untyped-call]
    if method == "files":
        config.use_file_serialization(hashing_algorithm=algorithm, allow_symlinks=allow_symlinks)
    elif method == "shards":
        shard_size = serialization.get("shard_size")
        if not isinstance(shard_size, int | float) or shard_size != int(shard_size):
            raise VerificationFailed(
                Reason.MALFORMED_BUNDLE, f"shard_size {shard_size!r} is not an integer"
            )
        config.use_shard_serialization(
            hashing_algorithm=algorithm, shard_size=int(shard_size), allow_symlinks=allow_symlinks
        )
    else:
        raise VerificationFailed(
            Reason.UNSUPPORTED_FORMAT, f"model serialization method {method!r} is not supported"
        )
    return config.set_ignored_paths(paths=list(ignore_paths))


def _model_facts(statement: dict[str, Any], serialization: str) -> ModelFacts:
    """Name and digest of the (now verified) manifest: SHA-256 over its resource digests.

    For the v1.0 predicate this is the statement's subject digest, which model-signing has
    checked against the resources; the legacy predicate gets the same construction.
    """
    manifest = ms_signing.dsse_payload_to_manifest(statement)
    hasher = hashlib.sha256()
    files = 0
    for descriptor in manifest.resource_descriptors():
        hasher.update(descriptor.digest.digest_value)
        files += 1
    subjects = statement.get("subject") or [{}]
    name = subjects[0].get("name", "") if len(subjects) == 1 else manifest.model_name
    return ModelFacts(str(name), "sha256:" + hasher.hexdigest(), files, serialization)


class ModelSigningPythonBackend:
    """``governance.attestations.verify.ModelSigningBackend`` on model-signing 1.x."""

    def verify_model(
        self,
        signature: bytes,
        model: Path,
        mode: ModelSigningMode,
        *,
        ignore_paths: Sequence[str] = (),
    ) -> ModelFacts:
        """Verify ``signature`` in ``mode`` and re-hash ``model`` against its manifest."""
        statement = _signed_statement(signature)
        config = hashing_config(statement, ignore_paths)
        with tempfile.TemporaryDirectory(prefix="model-signing-") as tmp:
            workdir = Path(tmp)
            signature_file = workdir / "model.sig"
            signature_file.write_bytes(signature)
            verifier = self._configure(mode, workdir).set_hashing_config(config)
            try:
                verifier.verify(model, signature_file)
            except (ValueError, InvalidSignature, X509StoreContextError, SigstoreError) as exc:
                detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise VerificationFailed(_classify(exc), f"model-signing: {detail}") from None
            except OSError as exc:
                raise VerificationFailed(
                    Reason.ARTIFACT_MISSING, f"model-signing: cannot read the model: {exc}"
                ) from None
            except (TypeError, KeyError, IndexError, AttributeError) as exc:
                # model-signing indexes into the signature JSON without checking its shape.
                raise VerificationFailed(
                    Reason.MALFORMED_BUNDLE, f"model-signing cannot read the signature: {exc!r}"
                ) from None
        serialization = (statement.get("predicate") or {}).get("serialization") or {}
        return _model_facts(statement, str(serialization.get("method", "files")))

    @staticmethod
    def _configure(mode: ModelSigningMode, workdir: Path) -> verifying.Config:
        config = verifying.Config()  # type: ignore[no-untyped-call]
        if isinstance(mode, KeyMode):
            key_file = workdir / "key.pub.pem"
            key_file.write_bytes(mode.public_key_pem)
            return config.use_elliptic_key_verifier(public_key=key_file)
        if isinstance(mode, CertificateMode):
            if not mode.chain_pem.strip():
                # An empty chain would make model-signing trust the public web roots.
                raise VerificationFailed(Reason.CHAIN_MISSING, "no certificate chain given")
            chain_file = workdir / "chain.pem"
            chain_file.write_bytes(mode.chain_pem)
            return config.use_certificate_verifier(certificate_chain=[chain_file])
        if isinstance(mode, SigstoreMode):
            trust_file = workdir / "trust_config.json"
            trust_file.write_text(
                json.dumps(
                    {
                        "mediaType": CLIENT_TRUST_CONFIG_MEDIA_TYPE,
                        "trustedRoot": json.loads(mode.trusted_root),
                        "signingConfig": _SIGNING_CONFIG,
                    }
                )
            )
            return config.use_sigstore_verifier(
                identity=mode.identity, oidc_issuer=mode.issuer, trust_config=trust_file
            )
        raise TypeError(f"unknown model-signing mode {mode!r}")
