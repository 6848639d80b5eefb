"""Attestation verification: Sigstore bundles, DSSE/in-toto statements, OpenSSF model signatures.

Everything here runs offline against a pinned trust configuration:

* ``trust``      — ``TrustConfig``: trusted roots (public and private Sigstore deployments), a
  registry of public keys with validity windows, certificate chains for model-signing
  certificate mode, allowed signer identities per purpose, timestamp authority roots;
* ``verify``     — ``Verifier.verify(Request) -> VerifiedFacts``, the orchestrator, which also
  exports the names of the modules below that callers use;
* ``facts``      — ``Request`` and ``VerifiedFacts``, what a verification is asked and proves;
* ``engines``    — the ``SigstoreBackend`` / ``ModelSigningBackend`` protocols the orchestrator
  drives, and what they report (real implementations live in ``adapters/``, chosen by the
  composition root);
* ``bundles``    — recognising a submission: Sigstore bundle, bare DSSE envelope, or model
  signature, and its signing mode;
* ``envelopes``  — DSSE envelopes and their pre-authentication encoding (PAE);
* ``keyed``      — signatures made with a registered key (no certificate), checked with
  ``cryptography`` alone: key lookup, artifact digests, validity windows, and the binding
  between a transparency-log entry and the material it claims to log;
* ``signers``    — certificate identities and the allow-list that admits them;
* ``statements`` — signed in-toto statements and the SLSA provenance they carry;
* ``reasons``    — ``Reason``, the enumerated failure codes, and ``VerificationFailed``.

Verification raises ``VerificationFailed`` with a ``Reason``; it never returns a falsy verdict.
"""
