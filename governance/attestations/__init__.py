"""Attestation verification: Sigstore bundles, DSSE/in-toto statements, OpenSSF model signatures.

Everything here runs offline against a pinned trust configuration:

* ``trust``   — ``TrustConfig``: trusted roots (public and private Sigstore deployments), a
  registry of public keys with validity windows, certificate chains for model-signing
  certificate mode, allowed signer identities per purpose, timestamp authority roots;
* ``verify``  — ``Verifier.verify(Request) -> VerifiedFacts``, the orchestrator, and the
  ``SigstoreBackend`` / ``ModelSigningBackend`` protocols it drives (real implementations live
  in ``adapters/``, chosen by the composition root);
* ``keyed``   — signatures made with a registered key (no certificate), checked with
  ``cryptography`` alone: DSSE PAE, artifact digests, key lookup, validity windows, and the
  binding between a transparency-log entry and the material it claims to log;
* ``reasons`` — ``Reason``, the enumerated failure codes, and ``VerificationFailed``.

Verification raises ``VerificationFailed`` with a ``Reason``; it never returns a falsy verdict.
"""
