"""Policy fixtures: input documents with the decision each must produce, run on any engine.

A fixture is a JSON file under the bundle's ``tests/`` directory::

    {
      "description": "what the case is about",
      "base": "gdpr-clean.json",        # optional: a document in tests/bases/ to start from
      "input": { ... },                 # merged onto the base (objects key by key, else replaced)
      "data": {"config": { ... }},      # optional: an operator overlay, as GOVERNANCE_POLICY_DATA
      "expect": {
        "status": {"gdpr-art6": "fail"},   # these controls end with exactly these statuses
        "fail": ["gdpr-art6"],             # shorthand: these fail (and no other control fails,
                                           # unless "others_may_fail" is true)
        "allow": false,                    # optional: the verdict
        "applicable": ["gdpr", "iso27001"],  # optional
        "evaluated": ["gdpr", "iso27001"]    # optional
      }
    }

Every document (the base merged with the fixture's input) must fit the input schema. Fixtures
describe the shipped bundle: they run on it, with only their own ``data`` overlay (for the rules
that read configuration an operator sets, such as a DPO reference). ``governance policy test``
and the test suite run every fixture, on both engines.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from governance.errors import ConfigError, InputError
from governance.ledger.canonical import canonical_json
from governance.policy.bundle import PolicyBundle, bundle_dir, check_overlay
from governance.policy.engine import Decision, PolicyEngine, check_input, decide

BASES = "bases"


@dataclass(frozen=True)
class Fixture:
    """One fixture: its name (path under tests/), the merged input, and what it expects."""

    name: str
    description: str
    document: dict[str, Any]
    status: Mapping[str, str] = field(default_factory=dict)
    fail: Sequence[str] | None = None
    others_may_fail: bool = False
    allow: bool | None = None
    applicable: Sequence[str] | None = None
    evaluated: Sequence[str] | None = None
    #: An operator overlay (``{"config": ...}``) the fixture is decided under, or None.
    overlay: Mapping[str, Any] | None = None

    def bundle(self, base: PolicyBundle) -> PolicyBundle:
        """The bundle the fixture is decided with: ``base``, with the fixture's overlay."""
        if self.overlay is None:
            return base
        return base.overlaid(self.overlay, f"the data of fixture {self.name}")

    def problems(self, decision: Decision) -> list[str]:
        """How ``decision`` differs from what the fixture expects (empty: it passes)."""
        found: list[str] = []
        if decision.outcome == "error":
            return [f"the engine failed: {decision.error}"]
        statuses = {str(r["control"]): str(r["status"]) for r in decision.results}
        for control, status in self.status.items():
            actual = statuses.get(control, "absent")
            if actual != status:
                found.append(f"{control} is {actual}, expected {status}")
        if self.fail is not None:
            failing = {c for c, s in statuses.items() if s == "fail"}
            for control in sorted(set(self.fail) - failing):
                found.append(f"{control} is {statuses.get(control, 'absent')}, expected fail")
            if not self.others_may_fail:
                for control in sorted(failing - set(self.fail)):
                    found.append(f"{control} fails too, and is not expected to")
        if self.allow is not None and decision.allow != self.allow:
            found.append(f"allow is {decision.allow}, expected {self.allow}")
        if self.applicable is not None and sorted(self.applicable) != decision.applicable:
            found.append(f"applicable is {decision.applicable}, expected {sorted(self.applicable)}")
        if self.evaluated is not None and sorted(self.evaluated) != decision.evaluated:
            found.append(f"evaluated is {decision.evaluated}, expected {sorted(self.evaluated)}")
        return found


def merge(base: Any, overlay: Any) -> Any:
    """``overlay`` merged onto ``base``: objects key by key, anything else replaced."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        merged = copy.deepcopy(base)
        for key, value in overlay.items():
            merged[key] = merge(merged[key], value) if key in merged else copy.deepcopy(value)
        return merged
    return copy.deepcopy(overlay)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"fixture {path} is not readable JSON: {exc}") from None


def load_fixture(path: Path, root: Path) -> Fixture:
    """The fixture at ``path`` (``root`` is the tests directory)."""
    raw = _read(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("expect"), dict):
        raise InputError(f"fixture {path} needs an object with an 'expect' object")
    document: Any = {}
    if raw.get("base"):
        document = _read(root / BASES / str(raw["base"]))
    document = merge(document, raw.get("input", {}))
    name = str(path.relative_to(root))
    try:
        check_input(document)
    except InputError as exc:
        problems = "; ".join(f"{e['path']}: {e['message']}" for e in exc.errors[:5])
        raise InputError(f"fixture {name}: the input does not fit the schema: {problems}") from None
    expect = raw["expect"]
    overlay = raw.get("data")
    if overlay is not None:
        try:
            check_overlay(overlay, f"the data of fixture {name}")
        except ConfigError as exc:
            raise InputError(exc.message) from None
    return Fixture(
        name=name,
        description=str(raw.get("description", "")),
        document=document,
        status=dict(expect.get("status", {})),
        fail=expect.get("fail"),
        others_may_fail=bool(expect.get("others_may_fail", False)),
        allow=expect.get("allow"),
        applicable=expect.get("applicable"),
        evaluated=expect.get("evaluated"),
        overlay=overlay,
    )


def fixtures(root: Path | None = None) -> Iterator[Fixture]:
    """Every fixture of the bundle (``root``: its tests directory), in path order."""
    root = root or bundle_dir() / "tests"
    for path in sorted(root.rglob("*.json")):
        if BASES in path.relative_to(root).parts:
            continue
        yield load_fixture(path, root)


@dataclass(frozen=True)
class FixtureOutcome:
    """A fixture's run: the decision and what was wrong with it."""

    fixture: Fixture
    decision: Decision
    problems: list[str]

    @property
    def passed(self) -> bool:
        """Whether the decision was the expected one."""
        return not self.problems


def run(
    engine: PolicyEngine,
    bundle: PolicyBundle,
    cases: Sequence[Fixture],
    timeout: float,
    progress: Callable[[], None] | None = None,
) -> list[FixtureOutcome]:
    """Decide every fixture on ``engine``, in ``cases`` order, and leave ``bundle`` loaded.

    Fixtures are decided in groups of one overlay (none being one), each group with its bundle
    loaded into the engine; ``progress`` is called after each decision.
    """
    groups: dict[str, list[Fixture]] = {}
    for fixture in cases:
        groups.setdefault(canonical_json(fixture.overlay or {}).decode(), []).append(fixture)
    decided: dict[str, FixtureOutcome] = {}
    try:
        for group in groups.values():
            overlaid = group[0].bundle(bundle)
            engine.load(overlaid)
            for fixture in group:
                decision = decide(engine, overlaid, fixture.document, timeout)
                decided[fixture.name] = FixtureOutcome(
                    fixture, decision, fixture.problems(decision)
                )
                if progress is not None:
                    progress()
    finally:
        engine.load(bundle)
    return [decided[fixture.name] for fixture in cases]
