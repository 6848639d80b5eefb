"""The ISO 27001 Statement of Applicability: one row per Annex A control, from the configuration."""

from __future__ import annotations

import pytest

from governance.errors import ConfigError
from governance.policy.bundle import shipped_bundle
from reports.catalog import statement_of_applicability
from reports.model import CatalogControl

ISO = CatalogControl(
    control="iso-a8.25",
    framework="iso27001",
    article="A.8.25, A.8.4",
    title="Secure development life cycle; access to source code",
    enforcement="deny",
    family="ISO A.8 Technological controls",
)
GDPR = CatalogControl(
    control="gdpr-art6",
    framework="gdpr",
    article="Art. 6(1)",
    title="Lawfulness of processing",
    enforcement="deny",
    family="GDPR Ch. II Principles",
)


def test_each_annex_a_control_a_control_cites_is_a_row_with_its_own_title() -> None:
    rows = statement_of_applicability([GDPR, ISO], {})
    assert [(r.annex_a, r.title, r.control) for r in rows] == [
        ("A.8.25", "Secure development life cycle", "iso-a8.25"),
        ("A.8.4", "Access to source code", "iso-a8.25"),
    ]
    assert all(r.applicable and r.evaluated_by_service for r in rows)
    assert "iso-a8.25" in rows[0].justification


def test_applicability_and_justification_come_from_the_configuration() -> None:
    config = {
        "soa": {
            "A.8.4": {"applicable": False, "justification": "No source code is held in-house."},
            "iso-a8.25": {"justification": "Reviewed quarterly."},
        }
    }
    by_ref = {r.annex_a: r for r in statement_of_applicability([ISO], config)}
    assert not by_ref["A.8.4"].applicable
    assert by_ref["A.8.4"].justification == "No source code is held in-house."
    # Keyed by the service's control id, an entry covers every Annex A control it cites that
    # has no entry of its own.
    assert by_ref["A.8.25"].applicable
    assert by_ref["A.8.25"].justification == "Reviewed quarterly."


@pytest.mark.parametrize(
    "config", [{"soa": ["A.8.4"]}, {"soa": {"A.8.4": "not applicable"}}], ids=["list", "string"]
)
def test_a_malformed_configuration_is_refused(config: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="soa"):
        statement_of_applicability([ISO], config)


def test_the_shipped_catalog_has_a_row_per_annex_a_control_of_its_iso_controls() -> None:
    bundle = shipped_bundle()
    iso = [
        CatalogControl(
            control=c.id,
            framework="iso27001",
            article=c.article,
            title=c.title,
            enforcement="deny" if c.enforcement == "deny" else "warn",
            family="",
        )
        for c in bundle.controls()
        if c.framework == "iso27001"
    ]
    rows = statement_of_applicability(iso, bundle.config)
    assert iso
    assert {r.control for r in rows} == {c.control for c in iso}
    assert len({r.annex_a for r in rows}) == len(rows)
    assert all(r.title[:1].isupper() for r in rows)
