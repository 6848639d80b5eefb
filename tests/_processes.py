"""Finding and killing the embedded policy engine's worker processes (Linux ``/proc``).

A worker killed with SIGKILL dies as it would of a native crash (rego-cpp's aborts and
segmentation faults): its pipes close, and the engine learns of it only from them.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

PROC = Path("/proc")


def _state_and_parent(pid: int | str) -> tuple[str, int] | None:
    """A process's state letter and parent pid; ``None`` once it is gone."""
    try:
        # The command name in parentheses may hold spaces: split after its last ")".
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1])


def regopy_workers(parent: int) -> list[int]:
    """The live (not zombie) embedded engine workers whose parent is ``parent``."""
    if not PROC.is_dir():
        pytest.fail("finding the engine's workers needs /proc (Linux)")
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        known = _state_and_parent(entry.name)
        if known is None or known[1] != parent or known[0] == "Z":
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"adapters.regopy_worker" in command:
            found.append(int(entry.name))
    return found


def crash_regopy_workers(
    parent: int, *, besides: frozenset[int] | set[int] = frozenset()
) -> list[int]:
    """SIGKILL every worker of ``parent`` not in ``besides`` (workers of other engines the
    process holds) and wait until each has died; their pids."""
    workers = [pid for pid in regopy_workers(parent) if pid not in besides]
    assert workers, f"no embedded engine worker runs under process {parent}"
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    for pid in workers:
        while (known := _state_and_parent(pid)) is not None and known[0] != "Z":
            if time.monotonic() > deadline:
                pytest.fail(f"worker {pid} did not die")
            time.sleep(0.02)
    return workers
