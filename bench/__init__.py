"""Benchmarks: figures printed next to a baseline measured in the same run (see README.md).

Each bench is a module run from the repository root, e.g. ``.venv/bin/python -m bench.ledger``;
the modules whose names start with an underscore are what the benches share.
"""
