#!/usr/bin/env python3
"""Developer entry point for governance-audit (standard library only).

Usage::

    python3 scripts/dev.py serve [ARGS...]   # bootstrap, then `governance serve ARGS...`
    python3 scripts/dev.py test [ARGS...]    # bootstrap, then `python -m pytest ARGS...`
    python3 scripts/dev.py lock [ARGS...]    # `uv lock ARGS...` (maintainers, after editing deps)

Bootstrap (idempotent, fast when already done):

1. create a private tool venv at ``.cache/uv-venv`` and ``pip install uv==UV_VERSION`` into it;
2. ``uv sync --locked`` the project environment ``.venv`` with the interpreter running this
   script, so ``.venv`` matches ``uv.lock`` exactly (dev group included). ``uv.lock`` is never
   modified; if it is out of date with ``pyproject.toml`` the sync fails and you should run
   ``python3 scripts/dev.py lock``.

Only Python 3.11+ (with ``venv`` and ``pip``) and access to PyPI are required. A globally
installed uv is neither needed nor used.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

UV_VERSION = "0.13.9"
MIN_PYTHON = (3, 11)

ROOT = Path(__file__).resolve().parent.parent
TOOL_VENV = ROOT / ".cache" / "uv-venv"
PROJECT_VENV = ROOT / ".venv"
BIN_DIR = "Scripts" if os.name == "nt" else "bin"
EXE = ".exe" if os.name == "nt" else ""

USAGE = f"""\
usage: python3 scripts/dev.py COMMAND [ARGS...]

Commands:
  serve [ARGS...]  bootstrap, then run `governance serve ARGS...` (applies migrations,
                   creates the signing key, listens on 127.0.0.1:8000 by default)
  test [ARGS...]   bootstrap, then run `python -m pytest ARGS...` from the repo root
                   and exit with pytest's status
  lock [ARGS...]   run `uv lock ARGS...` to update uv.lock after editing dependencies

Bootstrap creates .cache/uv-venv with uv=={UV_VERSION} (via pip) and syncs .venv exactly
to uv.lock (dev group included) using the interpreter running this script. It never
modifies uv.lock. All ARGS are passed through unchanged.

options:
  -h, --help       show this help message and exit
"""


def log(message: str) -> None:
    """Print a short progress line to stderr."""
    print(f"[dev] {message}", file=sys.stderr, flush=True)


def die(message: str, code: int = 1) -> NoReturn:
    """Print an error to stderr and exit."""
    print(f"[dev] error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def check_python() -> None:
    """Refuse to run on interpreters older than MIN_PYTHON."""
    if sys.version_info < MIN_PYTHON:
        want = ".".join(map(str, MIN_PYTHON))
        have = ".".join(map(str, sys.version_info[:3]))
        die(f"Python {want}+ is required, but {sys.executable} is Python {have}.", code=2)


def venv_exe(venv: Path, name: str) -> Path:
    """Return the path of an executable inside a virtual environment."""
    return venv / BIN_DIR / f"{name}{EXE}"


def run(cmd: list[str], *, env: dict[str, str] | None = None) -> int:
    """Run a command from the repo root and return its exit status."""
    try:
        return subprocess.call(cmd, cwd=ROOT, env=env)
    except FileNotFoundError:
        die(f"command not found: {cmd[0]}")
    except KeyboardInterrupt:
        return 130


def installed_uv_version(uv: Path) -> str | None:
    """Return the version of the uv binary at `uv`, or None if missing or broken."""
    if not uv.exists():
        return None
    try:
        out = subprocess.run(
            [str(uv), "--version"], capture_output=True, text=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    parts = out.split()  # "uv 0.13.9 (abcdef 2025-01-01)"
    return parts[1] if len(parts) >= 2 and parts[0] == "uv" else None


def ensure_uv() -> Path:
    """Ensure .cache/uv-venv holds uv==UV_VERSION; return the uv executable."""
    uv = venv_exe(TOOL_VENV, "uv")
    if installed_uv_version(uv) == UV_VERSION:
        return uv

    tool_python = venv_exe(TOOL_VENV, "python")
    if not tool_python.exists():
        log(f"creating tool venv {TOOL_VENV.relative_to(ROOT)} …")
        # --clear: recover from a half-created venv left by an interrupted run.
        if run([sys.executable, "-m", "venv", "--clear", str(TOOL_VENV)]) != 0:
            die(
                "could not create the tool venv; make sure Python's venv module and "
                "ensurepip are available (e.g. `apt install python3-venv`)."
            )

    log(f"installing uv=={UV_VERSION} into {TOOL_VENV.relative_to(ROOT)} …")
    pip = [str(tool_python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    if run([*pip, f"uv=={UV_VERSION}"]) != 0:
        die(f"`pip install uv=={UV_VERSION}` failed (is PyPI reachable?).")
    if installed_uv_version(uv) != UV_VERSION:
        die(f"uv=={UV_VERSION} was installed but {uv} does not report that version.")
    return uv


def uv_env() -> dict[str, str]:
    """Return the environment for uv: target the project's .venv, never download interpreters."""
    env = dict(os.environ)
    env["UV_PROJECT_ENVIRONMENT"] = str(PROJECT_VENV)
    env["UV_PYTHON_DOWNLOADS"] = "never"
    # An activated, unrelated venv would only make uv print a warning.
    env.pop("VIRTUAL_ENV", None)
    return env


def base_interpreter() -> str:
    """Return the interpreter to build .venv with: the one running this script.

    If this script runs inside a virtual environment (for example `.venv` itself), use that
    environment's base interpreter so `.venv` is never built on top of a venv.
    """
    if sys.prefix != sys.base_prefix:
        base = getattr(sys, "_base_executable", None)
        if isinstance(base, str) and base and Path(base).exists():
            return base
    return sys.executable


def bootstrap() -> None:
    """Make .venv match uv.lock exactly (idempotent, fast when already in sync)."""
    uv = ensure_uv()
    log(f"syncing {PROJECT_VENV.relative_to(ROOT)} with uv.lock …")
    # --locked: install exactly what uv.lock pins and fail, without touching uv.lock,
    # if it no longer matches pyproject.toml (plain --frozen would silently ignore that).
    cmd = [str(uv), "sync", "--locked", "--python", base_interpreter()]
    if run(cmd, env=uv_env()) != 0:
        die(
            "`uv sync --locked` failed (see uv's message above). If uv.lock is out of date "
            "with pyproject.toml, run `python3 scripts/dev.py lock` and commit uv.lock."
        )


def cmd_serve(args: list[str]) -> NoReturn:
    """Bootstrap, then replace this process with `governance serve ARGS...`."""
    bootstrap()
    governance = venv_exe(PROJECT_VENV, "governance")
    if not governance.exists():
        die(f"{governance} not found after sync; is the `governance` console script defined?")
    log(f"exec governance serve {' '.join(args)}".rstrip())
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(str(governance), [str(governance), "serve", *args])


def cmd_test(args: list[str]) -> int:
    """Bootstrap, then run pytest from the repo root; return its exit status."""
    bootstrap()
    python = venv_exe(PROJECT_VENV, "python")
    log(f"running pytest {' '.join(args)}".rstrip())
    return run([str(python), "-m", "pytest", *args])


def cmd_lock(args: list[str]) -> int:
    """Run `uv lock ARGS...` with the pinned uv."""
    uv = ensure_uv()
    log("running uv lock …")
    return run([str(uv), "lock", "--python", base_interpreter(), *args], env=uv_env())


def main(argv: list[str]) -> int:
    """Dispatch COMMAND; everything after it is passed through untouched."""
    if not argv:
        print(USAGE, end="", file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0
    check_python()
    command, args = argv[0], argv[1:]
    if command == "serve":
        cmd_serve(args)
    if command == "test":
        return cmd_test(args)
    if command == "lock":
        return cmd_lock(args)
    print(USAGE, end="", file=sys.stderr)
    die(f"unknown command {command!r}", code=2)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
