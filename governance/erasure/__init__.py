"""Erasure of an entry's payload (GDPR Art. 17), with everything derived from it."""
