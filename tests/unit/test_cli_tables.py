"""The CLI's tables: rich on a terminal; tab-separated, uncut and one line per row otherwise."""

from __future__ import annotations

import re
import sys
from typing import Any

import pytest

from governance.cli.common import TABLE_HELP, print_table

LONG = "dataset:pg://db:5432/" + "x" * 200
ROWS: list[dict[str, Any]] = [
    {"name": LONG, "tags": ["pii", "gold"], "owner": None, "count": 3},
    {"name": "tab\there", "tags": [], "owner": "line\nbreak", "count": 0},
    {"name": "back\\slash", "tags": {"a": 1}, "owner": "cr\rhere", "count": -1},
]
COLUMNS = ["name", "tags", "owner", "count"]


def test_piped_output_is_tab_separated_and_complete(capsys: pytest.CaptureFixture[str]) -> None:
    print_table(ROWS, COLUMNS, "a title people see")

    out = capsys.readouterr().out
    assert out.splitlines() == [
        "name\ttags\towner\tcount",
        f'{LONG}\t["pii", "gold"]\t-\t3',
        "tab\\there\t[]\tline\\nbreak\t0",
        'back\\\\slash\t{"a": 1}\tcr\\rhere\t-1',
    ]
    assert "a title" not in out
    assert "…" not in out


def test_an_empty_listing_is_its_header(capsys: pytest.CaptureFixture[str]) -> None:
    print_table([], COLUMNS)
    assert capsys.readouterr().out == "name\ttags\towner\tcount\n"


def test_a_terminal_gets_a_rich_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("NO_COLOR", "1")

    print_table(ROWS[:1], COLUMNS, "a title people see")

    out = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)  # styles (bold, italic)
    assert "a title people see" in out
    assert "\t" not in out
    assert "┃" in out or "│" in out  # box drawing: a table for people
    assert max(len(line) for line in out.splitlines()) <= 100  # fitted to the terminal


def test_the_help_says_what_a_pipe_gets() -> None:
    assert "tab-separated" in TABLE_HELP
    assert "not a terminal" in TABLE_HELP
