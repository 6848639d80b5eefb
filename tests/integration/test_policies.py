"""The policy bundle's fixtures, on both engines: each decides as its fixture expects, and the
embedded engine and the OPA server (the real OPA engine, ``../shared/opa``) decide identically."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.opa_engine import OpaServerEngine
from adapters.regopy_engine import EmbeddedEngine
from governance.policy.bundle import bundle_dir, load_bundle
from governance.policy.engine import Decision, decide
from governance.policy.fixtures import Fixture, fixtures
from tests.conftest import OpaServer

BUNDLE = load_bundle()
FIXTURES = {f.name: f for f in fixtures()}
TIMEOUT = 30.0


@pytest.fixture(scope="module")
def embedded() -> Iterator[EmbeddedEngine]:
    engine = EmbeddedEngine(workers=1)
    engine.load(BUNDLE)
    try:
        yield engine
    finally:
        engine.close()


@pytest.fixture(scope="module")
def opa(opa_server: OpaServer) -> Iterator[OpaServerEngine]:
    engine = OpaServerEngine(opa_server.url, opa_server.token, timeout=TIMEOUT)
    engine.load(BUNDLE)
    try:
        yield engine
    finally:
        engine.close()


def comparable(decision: Decision) -> dict[str, object]:
    """What must not depend on the engine: everything but the engine's name and timing."""
    document = decision.to_json()
    document.pop("policy")
    return document


def test_every_control_has_fixtures_that_pass_and_fail_it() -> None:
    """Every control of the catalog has at least one fixture expecting it to pass and one
    expecting it to fail."""
    expected: dict[str, set[str]] = {}
    for fixture in FIXTURES.values():
        for control, status in fixture.status.items():
            expected.setdefault(control, set()).add(status)
        for control in fixture.fail or ():
            expected.setdefault(control, set()).add("fail")
    missing = [
        f"{c.id}: {sorted({'pass', 'fail'} - expected.get(c.id, set()))}"
        for c in BUNDLE.controls()
        if not {"pass", "fail"} <= expected.get(c.id, set())
    ]
    assert not missing, "controls without a passing and a failing fixture:\n" + "\n".join(missing)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_on_both_engines(name: str, embedded: EmbeddedEngine, opa: OpaServerEngine) -> None:
    fixture: Fixture = FIXTURES[name]
    bundle = fixture.bundle(BUNDLE)
    try:
        if fixture.overlay is not None:
            embedded.load(bundle)
            opa.load(bundle)
        on_embedded = decide(embedded, bundle, fixture.document, TIMEOUT)
        assert fixture.problems(on_embedded) == [], f"{name}: {fixture.description}"
        on_opa = decide(opa, bundle, fixture.document, TIMEOUT)
        assert fixture.problems(on_opa) == [], f"{name} on OPA"
    finally:
        if fixture.overlay is not None:
            embedded.load(BUNDLE)
            opa.load(BUNDLE)
    assert comparable(on_embedded) == comparable(on_opa)


def test_the_bundle_is_where_the_service_finds_it() -> None:
    assert (bundle_dir() / ".manifest").is_file()
    assert BUNDLE.modules
