"""The policy bundle: where it is found, what its digest covers, and the operator's overlay."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from governance.errors import ConfigError
from governance.policy.bundle import bundle_dir, load_bundle

SHIPPED = load_bundle()


def test_the_shipped_bundle_has_every_framework_and_the_catalog() -> None:
    packages = {text.split("package ", 1)[1].split()[0] for text in SHIPPED.modules.values()}
    assert {
        "governance.lib",
        "governance.gate",
        "governance.gdpr",
        "governance.uae_pdpl",
        "governance.iso27001",
    } <= packages
    assert {c.framework for c in SHIPPED.controls()} == {"gdpr", "uae_pdpl", "iso27001"}
    assert len(list(SHIPPED.controls())) == 38
    assert not any("tests/" in path for path in SHIPPED.modules)


def test_the_digest_is_stable_and_covers_the_overlay(tmp_path: Path) -> None:
    assert load_bundle().digest == SHIPPED.digest
    overlay = tmp_path / "policy.yaml"
    overlay.write_text("config:\n  pdpl_dpo_ref: DPO-REG-1\n")
    overlaid = load_bundle(overlay=overlay)
    assert overlaid.digest != SHIPPED.digest
    assert overlaid.config["pdpl_dpo_ref"] == "DPO-REG-1"
    assert overlaid.config["eea"] == SHIPPED.config["eea"]  # merged, not replaced
    assert overlaid.overlay == f"GOVERNANCE_POLICY_DATA {overlay}"
    as_json = tmp_path / "policy.json"
    as_json.write_text(json.dumps({"config": {"pdpl_dpo_ref": "DPO-REG-1"}}))
    assert load_bundle(overlay=as_json).digest == overlaid.digest


def test_the_digest_covers_every_module(tmp_path: Path) -> None:
    copy = tmp_path / "policies"
    shutil.copytree(bundle_dir(), copy)
    (copy / "lib" / "lib.rego").write_text((copy / "lib" / "lib.rego").read_text() + "\n# x\n")
    assert load_bundle(copy).digest != SHIPPED.digest


def test_an_enforcement_override_is_resolved_into_the_catalog(tmp_path: Path) -> None:
    overlay = tmp_path / "policy.yaml"
    overlay.write_text("config:\n  enforcement:\n    iso-a8.8: warn\n")
    controls = {c.id: c for c in load_bundle(overlay=overlay).controls()}
    assert controls["iso-a8.8"].enforcement == "warn"
    assert {c.id: c.enforcement for c in SHIPPED.controls()}["iso-a8.8"] == "deny"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("config:\n  enforcement:\n    iso-a9.9: warn\n", "unknown control 'iso-a9.9'"),
        ("config:\n  enforcement:\n    iso-a8.8: block\n", "must be deny or warn"),
        ("rules: {}\n", "may only set config and catalog"),
        ("- config\n", "must hold a mapping"),
        ("config: [1]\n", "config must be a mapping"),
        ("config: {a: [\n", "not valid YAML or JSON"),
    ],
)
def test_a_bad_overlay_is_a_configuration_error(tmp_path: Path, text: str, message: str) -> None:
    overlay = tmp_path / "policy.yaml"
    overlay.write_text(text)
    with pytest.raises(ConfigError, match="GOVERNANCE_POLICY_DATA") as raised:
        load_bundle(overlay=overlay)
    assert message in raised.value.message


def test_a_missing_overlay_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read GOVERNANCE_POLICY_DATA"):
        load_bundle(overlay=tmp_path / "absent.yaml")
