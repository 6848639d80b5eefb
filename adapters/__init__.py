"""Bindings to outside engines and formats, each behind a protocol defined in ``governance``.

Only the composition roots (the app factory and the CLI) choose an adapter; ``governance`` never
imports this package.
"""
