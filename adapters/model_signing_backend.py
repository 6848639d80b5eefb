"""``ModelSigningBackend`` with OpenSSF model-signing 1.x: key, certificate and Sigstore modes.

model-signing's public API, ``model_signing.verifying.Config.verify(model, signature)``, does
three things: it reads the signature, has the configured verifier check it
(``self._verifier.verify(signature)``: the signature in the chosen mode, the in-toto payload
and statement types, and — in ``dsse_payload_to_manifest`` — that the v1.0 statement's subject
digest is the digest of the listed resources), which yields the signed manifest; then it
re-hashes the model directory and compares. The two entry points here:

* ``verify_model`` runs all three steps through the public API (a model directory is given);
* ``verify_signature`` runs the first two only, for a caller that knows the model's digest but
  has no model directory: the same ``verifying.Config``, configured the same way, and the same
  library verifier, reached through that configuration's ``_verifier`` attribute (model-signing
  1.1.1 has no public call that verifies without hashing). The orchestrator then compares the
  model digest with the digest it was told to expect. Certificate mode still gets the
  library's full chain check (pyOpenSSL, with the configured chain as the only trust anchors).

The model digest (``ModelFacts.digest``) is what model-signing records as the statement's
subject: for the v1.0 predicate, the subject's SHA-256, which the library has checked against
the resources. The legacy ``https://model_signing/Digests/v0.1`` predicate signs one subject
per file and no digest of the model, so its model digest is built the way model-signing 1.x
builds a v1.0 subject: SHA-256 over the files' SHA-256 digests in path order — the digest the
same files get when signed again with model-signing 1.x (whole files, SHA-256).

Two known behaviours of 1.1.1 are handled here:

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
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from model_signing import hashing, verifying
from model_signing import manifest as ms_manifest
from model_signing._signing import sign_sigstore as ms_sigstore
from model_signing._signing import sign_sigstore_pb as ms_sigstore_pb
from model_signing._signing import signing as ms_signing
from OpenSSL.crypto import X509StoreContextError
from sigstore.errors import Error as SigstoreError

from adapters.sigstore_backend import classify as classify_sigstore
from governance.attestations.engines import (
    CertificateMode,
    KeyMode,
    ModelFacts,
    ModelSigningMode,
    SigstoreMode,
)
from governance.attestations.reasons import Reason, VerificationFailed
from governance.attestations.trust import CLIENT_TRUST_CONFIG_MEDIA_TYPE

__all__ = ["ModelSigningPythonBackend"]

_PREDICATE_V1 = "https://model_signing/signature/v1.0"

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


def _write_signature(workdir: Path, signature: bytes) -> Path:
    path = workdir / "model.sig"
    path.write_bytes(signature)
    return path


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


def _model_facts(statement: Mapping[str, Any], manifest: ms_manifest.Manifest) -> ModelFacts:
    """Name, digest, resource count and serialization method of a verified manifest.

    The digest is the v1.0 statement's subject digest (``dsse_payload_to_manifest`` has checked
    it against the resources); a legacy statement has none, so it is SHA-256 over the resource
    digests in path order, as model-signing 1.x builds a subject (see the module docstring).
    """
    subjects = statement.get("subject") or [{}]
    files = sum(1 for _ in manifest.resource_descriptors())
    method = str(manifest.serialization_type.get("method", "files"))
    if statement.get("predicateType") == _PREDICATE_V1:
        (subject,) = subjects  # model-signing accepts exactly one subject for v1.0
        return ModelFacts(
            str(subject["name"]), "sha256:" + subject["digest"]["sha256"].lower(), files, method
        )
    hasher = hashlib.sha256()
    for descriptor in manifest.resource_descriptors():
        hasher.update(descriptor.digest.digest_value)
    return ModelFacts(manifest.model_name, "sha256:" + hasher.hexdigest(), files, method)


@contextmanager
def _library_errors() -> Iterator[None]:
    """Turn model-signing's exceptions into ``VerificationFailed`` with the closest reason."""
    try:
        yield
    except (ValueError, InvalidSignature, X509StoreContextError, SigstoreError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise VerificationFailed(_classify(exc), f"model-signing: {detail}") from None
    except (TypeError, KeyError, IndexError, AttributeError) as exc:
        # model-signing indexes into the signature JSON without checking its shape.
        raise VerificationFailed(
            Reason.MALFORMED_BUNDLE, f"model-signing cannot read the signature: {exc!r}"
        ) from None


class ModelSigningPythonBackend:
    """``governance.attestations.engines.ModelSigningBackend`` on model-signing 1.x."""

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
            signature_file = _write_signature(workdir, signature)
            verifier = self._configure(mode, workdir).set_hashing_config(config)
            with _library_errors():
                try:
                    verifier.verify(model, signature_file)
                except OSError as exc:
                    raise VerificationFailed(
                        Reason.ARTIFACT_MISSING, f"model-signing: cannot read the model: {exc}"
                    ) from None
                manifest = ms_signing.dsse_payload_to_manifest(statement)
        return _model_facts(statement, manifest)

    def verify_signature(self, signature: bytes, mode: ModelSigningMode) -> ModelFacts:
        """Verify ``signature`` in ``mode`` and read its manifest, without a model to re-hash.

        ``verifying.Config.verify`` up to and excluding the re-hash (see the module docstring):
        the signature, the chain or Sigstore bundle, the statement and the manifest's
        consistency are checked by model-signing's own verifier for the mode.
        """
        statement = _signed_statement(signature)
        with tempfile.TemporaryDirectory(prefix="model-signing-") as tmp:
            workdir = Path(tmp)
            signature_file = _write_signature(workdir, signature)
            verifier = getattr(self._configure(mode, workdir), "_verifier", None)
            if not isinstance(verifier, ms_signing.Verifier):
                raise TypeError("this model-signing version keeps no verifier in its Config")
            kind = (
                ms_sigstore.Signature
                if isinstance(mode, SigstoreMode)
                else ms_sigstore_pb.Signature
            )
            with _library_errors():
                manifest = verifier.verify(kind.read(signature_file))
                # The facts are read from our parse of the statement: it must be what was verified.
                if manifest != ms_signing.dsse_payload_to_manifest(statement):
                    raise VerificationFailed(
                        Reason.MALFORMED_BUNDLE, "the signed manifest differs from the statement"
                    )
        return _model_facts(statement, manifest)

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
