"""The index of issued audit reports: one ``report`` ledger entry each, projected to a table."""
