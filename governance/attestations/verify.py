"""Attestation verification: one ``Verifier.verify(Request)`` for every supported format.

Formats, told apart by shape:

* a **Sigstore bundle** (``mediaType`` ``application/vnd.dev.sigstore.bundle…``, v0.1–v0.3)
  signed with a Fulcio certificate (``keyless``) or with a registered key (``key``), over an
  artifact (``messageSignature``) or a DSSE envelope;
* a bare **DSSE envelope** (``payload``, ``payloadType``, ``signatures``), always ``key``;
* an **OpenSSF model signature**: a Sigstore bundle whose DSSE payload is an in-toto statement
  with a model-signing predicate (``https://model_signing/signature/v1.0``, or the legacy
  ``https://model_signing/Digests/v0.1``), in ``key``, ``certificate`` or ``keyless``
  (Sigstore) mode; the model directory is re-hashed with the hashing configuration recorded in
  the signed manifest or, without a directory, the signed model digest (the statement's
  subject) must be the expected digest.

Outside engines sit behind two protocols, injected by the composition root:
``SigstoreBackend`` (certificate bundles, transparency logs, timestamps) and
``ModelSigningBackend`` (model manifests), defined in ``engines``. The real implementations are
in ``adapters/``.

``Verifier`` drives the steps; each lives in its own module: ``bundles`` recognises the
submission, ``keyed`` checks signatures made with a registered key, ``signers`` checks
certificate identities, ``statements`` reads the signed statement, and ``facts`` holds the
request and the result. The names callers need from those modules are exported here as well.

Nothing here touches the network: trust comes from the pinned ``TrustConfig`` only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from governance.attestations import keyed
from governance.attestations.bundles import Submission, read_submission
from governance.attestations.engines import (
    CertificateMode,
    CertifiedSigner,
    KeylessResult,
    KeyMode,
    LogEntryFacts,
    ModelFacts,
    ModelSigningBackend,
    ModelSigningMode,
    SigstoreBackend,
    SigstoreMode,
    TransparencyFacts,
)
from governance.attestations.facts import (
    Format,
    Material,
    Request,
    SigningMode,
    Subject,
    VerifiedFacts,
)
from governance.attestations.reasons import Reason, VerificationFailed
from governance.attestations.signers import allowed_signer, certificate_identity, not_before
from governance.attestations.statements import (
    Provenance,
    Statement,
    check_predicate_type,
    check_subject,
    provenance_of,
    read_statement,
)
from governance.attestations.trust import AllowedIdentity, KeyAlgorithm, RegisteredKey, TrustConfig

__all__ = [
    "CertificateMode",
    "CertifiedSigner",
    "Format",
    "KeyMode",
    "KeylessResult",
    "LogEntryFacts",
    "Material",
    "ModelFacts",
    "ModelSigningBackend",
    "ModelSigningMode",
    "Reason",
    "Request",
    "SigningMode",
    "SigstoreBackend",
    "SigstoreMode",
    "Subject",
    "TransparencyFacts",
    "VerificationFailed",
    "VerifiedFacts",
    "Verifier",
]


@dataclass(frozen=True)
class _Signed:
    """The outcome of the signature step, before the statement is read."""

    identity: str | None = None
    issuer: str | None = None
    key_id: str | None = None
    trusted_root: str | None = None
    transparency: TransparencyFacts = field(default_factory=TransparencyFacts)
    signing_time: tuple[str, datetime] | None = None
    payload_type: str | None = None
    payload: bytes | None = None
    model: ModelFacts | None = None
    certified: CertifiedSigner | None = None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Verifier:
    """Verifies attestations against one pinned ``TrustConfig``, offline."""

    def __init__(
        self,
        trust: TrustConfig,
        *,
        sigstore: SigstoreBackend,
        model_signing: ModelSigningBackend,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._trust = trust
        self._sigstore = sigstore
        self._model_signing = model_signing
        self._clock = clock
        self._trust_digest = trust.digest()

    @property
    def trust(self) -> TrustConfig:
        """The trust configuration in force."""
        return self._trust

    def verify(self, request: Request) -> VerifiedFacts:
        """Verify one attestation; return what it proves or raise ``VerificationFailed``.

        1. Recognise the format: Sigstore bundle (by ``mediaType``), bare DSSE envelope, or
           OpenSSF model signature; and the mode: keyless, key or certificate.
        2. Pin the artifact: hash the artifact file and reconcile it with the expected digest
           (a model signature needs its model directory or the expected model digest).
        3. Verify the signature in its mode — keyless: sigstore against the pinned trusted root
           with the allowed identities; key: the registry, ``cryptography``, the key's validity
           at signing time, log entries and timestamps when present; model signing:
           model-signing in key, certificate or Sigstore mode, re-hashing the model directory
           when there is one.
        4. Read the signed in-toto statement: its subjects must include the artifact digest
           (``verify_dsse`` does not check this) — for a model signature, the signed model
           digest must be the expected one — and the predicate type must be the expected one.
        5. Parse the predicate (SLSA provenance) and assemble the facts.
        """
        submission = read_submission(request.bundle)
        digest = self._artifact_digest(request, submission)
        if submission.format is Format.MODEL_SIGNING:
            signed = self._verify_model(request, submission)
        elif submission.mode is SigningMode.KEYLESS:
            signed = self._verify_keyless(request, submission, digest)
        else:
            signed = self._verify_keyed(request, submission, digest)

        statement = None
        if submission.envelope is not None:
            statement = read_statement(signed.payload_type, signed.payload)
            check_predicate_type(statement, request.expected_predicate_type)
            if signed.model is None:
                check_subject(statement, digest)
            elif digest is not None and digest != signed.model.digest:
                raise VerificationFailed(
                    Reason.SUBJECT_MISMATCH,
                    f"the model digest is {signed.model.digest}, expected {digest}",
                )
        return self._facts(request, submission, signed, statement, digest)

    # 2 ---------------------------------------------------------------------------------------

    @staticmethod
    def _artifact_digest(request: Request, submission: Submission) -> str | None:
        expected, artifact = request.expected_digest, request.artifact
        if submission.format is Format.MODEL_SIGNING:
            if artifact is not None and not artifact.is_dir():
                raise VerificationFailed(
                    Reason.ARTIFACT_MISSING, f"{artifact} is not a model directory"
                )
            if artifact is None and expected is None:
                # A signature alone would pass on whatever model it names.
                raise VerificationFailed(
                    Reason.ARTIFACT_MISSING,
                    "a model signature needs the model directory or the model's digest",
                )
            return expected
        if artifact is None:
            return expected
        if not artifact.is_file():
            raise VerificationFailed(
                Reason.ARTIFACT_MISSING, f"artifact {artifact} is not a readable file"
            )
        actual = "sha256:" + keyed.file_digest(artifact, "sha256").hex()
        if expected is not None and actual != expected:
            raise VerificationFailed(
                Reason.SUBJECT_MISMATCH,
                f"artifact {artifact.name} is {actual}, expected {expected}",
            )
        return actual

    # 3 ---------------------------------------------------------------------------------------

    def _root(self, request: Request) -> str:
        name = self._trust.root_name_for(request.purpose, request.trusted_root)
        if name is None:
            raise VerificationFailed(
                Reason.TRUSTED_ROOT_UNKNOWN,
                f"no trusted root is configured for {request.purpose!r}",
            )
        if name not in self._trust.trusted_roots:
            raise VerificationFailed(
                Reason.TRUSTED_ROOT_UNKNOWN, f"trusted root {name!r} is not configured"
            )
        return name

    def _identities(self, request: Request) -> tuple[AllowedIdentity, ...]:
        if request.identity is not None and request.issuer is not None:
            return (AllowedIdentity(issuer=request.issuer, identity=request.identity),)
        rules = self._trust.identities_for(request.purpose)
        if not rules:
            raise VerificationFailed(
                Reason.IDENTITY_NOT_ALLOWED,
                f"no signer identities are allowed for {request.purpose!r}",
            )
        return rules

    def _verify_keyless(
        self, request: Request, submission: Submission, digest: str | None
    ) -> _Signed:
        root = self._root(request)
        rules = self._identities(request)
        document = self._trust.root_document(root)
        if submission.envelope is None:
            if digest is None:
                raise VerificationFailed(
                    Reason.ARTIFACT_MISSING, "a message signature needs the artifact or its digest"
                )
            result = self._sigstore.verify_artifact(
                request.bundle, bytes.fromhex(digest[7:]), trusted_root=document, identities=rules
            )
        else:
            result = self._sigstore.verify_dsse(
                request.bundle, trusted_root=document, identities=rules
            )
        identity = allowed_signer(result.signer.sans, result.signer.issuer, rules)
        times = result.transparency.times()
        return _Signed(
            identity=identity,
            issuer=result.signer.issuer,
            certified=result.signer,
            trusted_root=root,
            transparency=result.transparency,
            signing_time=min(times, key=lambda t: t[1]) if times else None,
            payload_type=result.payload_type,
            payload=result.payload,
        )

    def _verify_keyed(
        self, request: Request, submission: Submission, digest: str | None
    ) -> _Signed:
        """Key-signed bundle or DSSE envelope.

        1. Candidate keys: registered for the purpose, narrowed by the bundle's key hint.
        2. The signature: over the DSSE PAE, or over the artifact (its digest must match the
           bundle's ``messageDigest``, when present).
        3. Log entries and timestamps, when present: verified against the trusted root, and each
           entry must record this key, signature and content.
        4. The key must be valid at every verified time of signing, or — with none — now.
        """
        candidates = self._candidates(request, submission)
        if submission.envelope is not None:
            key, signature = keyed.verify_envelope(submission.envelope, candidates)
        else:
            assert submission.message_signature is not None
            signature = submission.message_signature
            key = keyed.verify_message_signature(
                signature,
                candidates,
                digest=digest,
                recorded=submission.message_digest,
                artifact=request.artifact,
            )
        root, transparency = self._transparency(request, submission, key, signature, digest)
        # With no verified time, the signature is no later than now.
        times = transparency.times() or [("verification_time", self._clock())]
        keyed.check_key_validity(key, times)
        return _Signed(
            key_id=key.id,
            trusted_root=root,
            transparency=transparency,
            signing_time=min(times, key=lambda t: t[1]),
            payload_type=submission.envelope.payload_type if submission.envelope else None,
            payload=submission.envelope.payload if submission.envelope else None,
        )

    def _candidates(self, request: Request, submission: Submission) -> tuple[RegisteredKey, ...]:
        hints = [submission.key_hint or ""]
        if submission.envelope is not None:
            hints.extend(s.keyid for s in submission.envelope.signatures)
        return keyed.candidate_keys(self._trust.keys_for(request.purpose), hints, request.purpose)

    def _transparency(
        self,
        request: Request,
        submission: Submission,
        key: RegisteredKey,
        signature: bytes,
        digest: str | None,
    ) -> tuple[str | None, TransparencyFacts]:
        if not submission.has_transparency:
            return None, TransparencyFacts()
        root = self._root(request)
        facts = self._sigstore.verify_transparency(
            request.bundle, trusted_root=self._trust.root_document(root), signature=signature
        )
        for entry in facts.entries:
            keyed.check_log_binding(
                entry.kind,
                entry.version,
                entry.body,
                key=key,
                signature=signature,
                artifact_sha256=bytes.fromhex(digest[7:]) if digest else None,
                envelope=submission.envelope,
            )
        return root, facts

    def _verify_model(self, request: Request, submission: Submission) -> _Signed:
        """OpenSSF model signature.

        1. The signer, by mode — key: a registered key (hint lookup, our own PAE check, validity
           now or at logged times); certificate: the purpose's configured chains, and no
           others; keyless: sigstore with the allowed identities.
        2. model-signing verifies the signature again in that mode and the signed manifest's
           consistency, and re-hashes the model directory, when given, with the hashing
           configuration from the signed manifest (without one, ``verify`` compares the signed
           model digest with the expected digest).
        3. Certificate mode: the leaf certificate's identity must be allowed (model-signing
           checks none).
        """
        assert submission.envelope is not None
        if submission.mode is SigningMode.KEY:
            signed = self._verify_keyed(request, submission, None)
            key = next(k for k in self._trust.keys if k.id == signed.key_id)
            if key.algorithm is KeyAlgorithm.ED25519:
                raise VerificationFailed(
                    Reason.UNSUPPORTED_FORMAT, "model-signing key mode supports ECDSA keys only"
                )
            mode: ModelSigningMode = KeyMode(key.pem.encode())
        elif submission.mode is SigningMode.CERTIFICATE:
            chains = self._trust.chains_for(request.purpose)
            if not chains:
                raise VerificationFailed(
                    Reason.CHAIN_MISSING,
                    f"no certificate chain is configured for {request.purpose!r}; "
                    "public web roots are never used",
                )
            if submission.leaf_der is None:
                raise VerificationFailed(
                    Reason.MALFORMED_BUNDLE, "certificate mode without a certificate"
                )
            rules = self._identities(request)
            mode = CertificateMode(b"".join(c.pem.encode() for c in chains))
            model = self._model(request, mode)
            sans, issuer = certificate_identity(submission.leaf_der)
            return _Signed(
                identity=allowed_signer(sans, issuer, rules),
                issuer=issuer,
                trusted_root="chain:" + ",".join(c.id for c in chains),
                signing_time=("certificate_not_before", not_before(submission.leaf_der)),
                payload_type=submission.envelope.payload_type,
                payload=submission.envelope.payload,
                model=model,
            )
        else:
            signed = self._verify_keyless(request, submission, None)
            assert signed.identity is not None
            assert signed.issuer is not None
            document = self._trust.root_document(self._root(request))
            mode = SigstoreMode(document, signed.identity, signed.issuer)
        return replace(signed, model=self._model(request, mode))

    def _model(self, request: Request, mode: ModelSigningMode) -> ModelFacts:
        if request.artifact is None:
            return self._model_signing.verify_signature(request.bundle, mode)
        return self._model_signing.verify_model(
            request.bundle, request.artifact, mode, ignore_paths=request.ignore_paths
        )

    # 5 ---------------------------------------------------------------------------------------

    def _facts(
        self,
        request: Request,
        submission: Submission,
        signed: _Signed,
        statement: Statement | None,
        digest: str | None,
    ) -> VerifiedFacts:
        provenance = provenance_of(statement) if statement is not None else Provenance()
        if provenance.source_repo is None and signed.certified is not None:
            # No provenance statement: the source the CI identity's certificate vouches for.
            cert = signed.certified
            provenance = replace(
                provenance,
                source_repo=cert.source_repo,
                source_ref=cert.source_ref,
                source_digest={"gitCommit": cert.source_commit} if cert.source_commit else {},
            )
        if statement is not None:
            subjects = statement.subjects
        elif digest is not None:
            name = request.artifact.name if request.artifact is not None else ""
            subjects = (Subject(name, {"sha256": digest[7:]}),)
        else:
            subjects = ()
        first = signed.transparency.entries[0] if signed.transparency.entries else None
        source, when = signed.signing_time or ("verification_time", self._clock())
        model = signed.model
        return VerifiedFacts(
            format=submission.format,
            mode=submission.mode,
            media_type=submission.media_type,
            signer_identity=signed.identity,
            signer_issuer=signed.issuer,
            key_id=signed.key_id,
            trusted_root=signed.trusted_root,
            signing_time=when,
            signing_time_source=source,
            trust_config_digest=self._trust_digest,
            predicate_type=statement.predicate_type if statement is not None else None,
            subjects=subjects,
            artifact_digest=model.digest if model is not None else digest,
            integrated_time=first.integrated_time if first is not None else None,
            log_index=first.log_index if first is not None else None,
            timestamps=signed.transparency.timestamps,
            builder_id=provenance.builder_id,
            build_type=provenance.build_type,
            source_repo=provenance.source_repo,
            source_ref=provenance.source_ref,
            source_digest=provenance.source_digest,
            materials=provenance.materials,
            model_name=model.name if model is not None else None,
            model_digest=model.digest if model is not None else None,
        )
