"""Static quality gates: ruff (lint + format), mypy --strict and import-linter contracts.

The tools come from the same virtual environment as the interpreter running pytest (the
project's `.venv`, synced from uv.lock), and run from the repository root so they pick up
their configuration from pyproject.toml.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN_DIR))
    if found is None:
        pytest.fail(f"{name!r} is not installed in {BIN_DIR}; run `python3 scripts/dev.py test`")
    return found


def _run(name: str, *args: str, timeout: float = 300) -> None:
    cmd = [_tool(name), *args]
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("FORCE_COLOR", None)
    proc = subprocess.run(
        cmd,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        shown = " ".join([name, *args])
        pytest.fail(
            f"`{shown}` exited with {proc.returncode}:\n{proc.stdout}",
            pytrace=False,
        )


def test_ruff_check() -> None:
    _run("ruff", "check", "--no-fix", ".")


def test_ruff_format() -> None:
    _run("ruff", "format", "--check", "--diff", ".")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_mypy() -> None:
    # Packages, strictness and overrides come from [tool.mypy] in pyproject.toml.
    _run("mypy", timeout=1100)


def test_import_contracts() -> None:
    # Contracts come from [tool.importlinter] in pyproject.toml.
    _run("lint-imports", "--no-cache")


def test_every_feature_is_kept_from_the_edges() -> None:
    """Each module and package of governance but the edges is in the contract that keeps the
    API, the CLI and their frameworks out of it (the layers contract is exhaustive already)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    (edges,) = [c for c in contracts if c["name"].startswith("features do not import the edges")]
    assert {"fastapi", "starlette", "typer", "rich"} <= set(edges["forbidden_modules"])
    package = ROOT / "governance"
    modules = {
        f"governance.{p.stem}"
        for p in package.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }
    assert modules - {"governance.api", "governance.cli"} == set(edges["source_modules"])
