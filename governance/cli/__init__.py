"""The ``governance`` command line: a Typer app with one module per feature."""
