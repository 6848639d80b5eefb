"""Policy input documents of a chosen size, grown from one of the bundle's fixture bases.

A base (``policies/tests/bases/*.json``) is a small, consistent document. :func:`scaled` grows it
to ``datasets`` datasets, ``jobs`` jobs and ``attestations`` attestations by copying its own
upstream datasets, jobs and attestations under new names, runs and ledger indexes, so the copy
still fits the input schema and decides like the base, only over more evidence.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from governance.policy.bundle import bundle_dir
from governance.policy.engine import check_input


def base(name: str) -> dict[str, Any]:
    """The fixture base ``name`` of the shipped bundle."""
    loaded: dict[str, Any] = json.loads((bundle_dir() / "tests" / "bases" / name).read_text())
    return loaded


def _grow(items: list[dict[str, Any]], size: int, rename: Any) -> list[dict[str, Any]]:
    grown = list(items)
    copies = 0
    while len(grown) < size and items:
        copies += 1
        grown.append(rename(copy.deepcopy(items[(copies - 1) % len(items)]), copies))
    return grown


def scaled(document: dict[str, Any], datasets: int, jobs: int, attestations: int) -> dict[str, Any]:
    """``document`` grown to the given counts (never shrunk), checked against the schema."""
    grown = copy.deepcopy(document)
    model = [d for d in grown["datasets"] if d["distance"] == 0]
    upstream = [d for d in grown["datasets"] if d["distance"] > 0]

    def dataset(d: dict[str, Any], n: int) -> dict[str, Any]:
        d["name"] = f"{d['name']}_{n}"
        d["node"] = f"dataset:{d['namespace']}:{d['name']}"
        return d

    def job(j: dict[str, Any], n: int) -> dict[str, Any]:
        j["name"] = f"{j['name']}_{n}"
        j["node"] = f"job:{j['namespace']}:{j['name']}"
        for run in j["runs"]:
            run["run_id"] = f"{run['run_id'][:-8]}{n:08d}"
        return j

    def attestation(a: dict[str, Any], n: int) -> dict[str, Any]:
        a["index"] = a["index"] + 100_000 * n
        return a

    grown["datasets"] = model + _grow(upstream, datasets - len(model), dataset)
    grown["jobs"] = _grow(grown["jobs"], jobs, job)
    grown["attestations"] = _grow(grown.get("attestations", []), attestations, attestation)
    check_input(grown)
    return grown
