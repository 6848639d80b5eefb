"""Evidence documents: any file (a DPIA, a pen-test report, a ticket export) kept in the ledger."""
