"""The verifiable ledger: canonical envelopes, Merkle proofs, signed checkpoints, store, audit."""
