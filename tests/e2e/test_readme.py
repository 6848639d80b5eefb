"""The README's snippets work as written, against a live server.

The Quick start's follow-up commands and the "Sending OpenLineage events" snippet are taken from
README.md and run with bash in a directory laid out like a fresh clone (``.venv/bin/governance``,
``.venv/bin/python``, ``docs/``), with the server's address in place of ``127.0.0.1:8000``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e._server import Server, running_server, wait_for_log

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
EXAMPLE_PDF = ROOT / "docs" / "examples" / "dpia-example.pdf"
DEFAULT_URL = "http://127.0.0.1:8000"


def section(title: str) -> str:
    """The text of the README section (any level) headed ``title``, up to the next heading."""
    text = README.read_text()
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ )", text, re.MULTILINE | re.DOTALL)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def bash_blocks(title: str) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", section(title), re.MULTILINE | re.DOTALL)


def clone_layout(tmp: Path) -> Path:
    """A directory where the README's relative paths resolve to this checkout."""
    clone = tmp / "clone"
    bin_dir = clone / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    shims = {"governance": "-m governance.cli.main ", "python": ""}
    for name, args in shims.items():
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" {args}"$@"\n')
        shim.chmod(0o755)
    (clone / "docs").symlink_to(ROOT / "docs")
    return clone


def run_snippet(server: Server, snippet: str, clone: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in server.env.items() if not k.startswith("OPENLINEAGE")},
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
    }
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", snippet.replace(DEFAULT_URL, server.url)],
        env=env,
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_the_quick_start_starts_with_the_two_commands() -> None:
    first, *_rest = bash_blocks("Quick start")
    assert first.splitlines() == ["python3 scripts/dev.py serve", "python3 scripts/dev.py test"]


def test_the_example_document_is_a_pdf() -> None:
    data = EXAMPLE_PDF.read_bytes()
    assert data.startswith(b"%PDF-1.")
    assert data.rstrip().endswith(b"%%EOF")
    # Every cross-reference entry points at its object, and startxref at the table.
    xref = int(data.rsplit(b"startxref", 1)[1].split()[0])
    assert data[xref:].startswith(b"xref")
    entries = data[xref:].split(b"trailer")[0].splitlines()[3:]
    for number, entry in enumerate(entries, start=1):
        offset = int(entry.split()[0])
        assert data[offset:].startswith(f"{number} 0 obj".encode()), number
    assert b"EXAMPLE" in data


def test_the_quick_start_follow_up_runs_as_written(tmp_path: Path) -> None:
    _first, follow_up = bash_blocks("Quick start")
    assert "@docs/examples/dpia-example.pdf" in follow_up
    with running_server(tmp_path / "server") as server:
        result = run_snippet(server, follow_up, clone_layout(tmp_path))
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert '"kind":"evidence"' in result.stdout  # the receipt, from tee
    assert "OK: no damage found" in result.stdout
    assert result.stdout.rstrip().endswith("verified")


def test_the_openlineage_snippet_sends_an_event(tmp_path: Path) -> None:
    (snippet,) = bash_blocks("Sending OpenLineage events")
    for name in ("URL", "ENDPOINT", "AUTH__TYPE", "AUTH__API_KEY"):
        assert f"export OPENLINEAGE__TRANSPORT__{name}=" in snippet
    with running_server(tmp_path / "server") as server:
        before = server.tree_size()
        result = run_snippet(server, snippet, clone_layout(tmp_path))
        assert result.returncode == 0, (result.stdout, result.stderr)
        assert server.tree_size() == before + 1
        assert "hello" in result.stdout  # `lineage runs --namespace my-pipeline`
        assert "COMPLETE" in result.stdout


def test_mixing_the_two_forms_sends_no_key(tmp_path: Path) -> None:
    """What the README warns about: OPENLINEAGE_URL with OPENLINEAGE__TRANSPORT__AUTH__*."""
    (snippet,) = bash_blocks("Sending OpenLineage events")
    emit = snippet.split("<<'PY'\n", 1)[1].split("\nPY\n", 1)[0]
    with running_server(tmp_path / "server") as server:
        before = server.tree_size()
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLINEAGE")}
        env.update(
            OPENLINEAGE_URL=server.url,
            OPENLINEAGE__TRANSPORT__AUTH__TYPE="api_key",
            OPENLINEAGE__TRANSPORT__AUTH__API_KEY=server.key("ingest"),
        )
        # Whether the client raises or only logs the 401 is its own business.
        subprocess.run(
            [sys.executable, "-c", emit],
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert wait_for_log(server, "/api/v1/lineage", 401, 1) == 1
        assert server.tree_size() == before
