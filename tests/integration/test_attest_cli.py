"""``governance attest verify`` over every EXPECTED.json case, in process.

Trust comes from the command line only (GOVERNANCE_TRUST_CONFIG unset: Sigstore's shipped roots
plus what the options name): ``--trusted-root`` the case's root file, ``--public-key`` /
``--certificate-chain`` the case's key or chain, ``--identity`` / ``--issuer`` the case's signer.
Exit 0 for PASS; exit 1 for FAIL with a reason code in the case's expected set. Model cases are
verified against their model directory (the bundle inside it is ignored by the CLI), and again
against the model's digest alone (``--digest``). Outbound sockets are blocked for the module (the
library test's guard).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from governance.cli.main import main
from tests.conftest import signing_fixture
from tests.integration.test_attestations import (
    CERT_MODE_SIGNER,
    FAIL_REASONS,
    WHL,
    case_ids,
    expected_case,
    model_digest,
    network_guard,
    no_network,
    statement_of,
)

__all__ = ["network_guard", "no_network"]  # the imported socket guard applies to this module

PURPOSE = "release"


@pytest.fixture(autouse=True)
def _no_trust_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVERNANCE_TRUST_CONFIG", raising=False)


def cli_args(case: dict[str, Any]) -> list[str]:
    bundle = signing_fixture(case["bundle"])
    args = ["attest", "verify", "--bundle", str(bundle), "--purpose", PURPOSE, "--json"]
    spec = case["artifact"]
    if spec.startswith("sha256:"):
        args += ["--digest", spec]
    elif spec.startswith("subject digest from the statement"):
        subject = statement_of(bundle)["subject"][0]
        args += ["--digest", "sha256:" + subject["digest"]["sha256"]]
    else:
        args += ["--artifact", str(signing_fixture(spec.split(" (")[0]))]
    if case.get("trusted_root"):
        args += ["--trusted-root", str(signing_fixture(case["trusted_root"]))]
    if "public_key" in case:
        args += ["--public-key", str(signing_fixture(case["public_key"]))]
    if "certificate_chain" in case:
        args += ["--certificate-chain", str(signing_fixture(case["certificate_chain"]))]
        args += ["--identity", CERT_MODE_SIGNER.identity or "", "--issuer", CERT_MODE_SIGNER.issuer]
    elif case.get("issuer"):
        identity = case.get("identity")
        if identity and identity != "-":
            args += ["--identity", identity, "--issuer", case["issuer"]]
        # "-": any identity of the issuer (the case fails for another reason). The CLI has no
        # option for an identity pattern, so that rule comes from GOVERNANCE_TRUST_CONFIG
        # (see any_identity_config).
    return args


def any_identity_config(case: dict[str, Any], tmp_path: Path) -> Path:
    """A trust config allowing every identity of the case's issuer for PURPOSE."""
    path = tmp_path / "trust.json"
    rule = {"issuer": case["issuer"], "identity_regex": ".*"}
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "default_trusted_root": "production",
                "trusted_roots": {"production": "sigstore:production"},
                "identities": {PURPOSE: [rule]},
            }
        )
    )
    return path


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(args)
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


@pytest.mark.parametrize("case_id", case_ids())
def test_expected_case_through_the_cli(
    case_id: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    case = expected_case(case_id)
    if case.get("identity") == "-":
        monkeypatch.setenv("GOVERNANCE_TRUST_CONFIG", str(any_identity_config(case, tmp_path)))
    code, result = run(cli_args(case), capsys)
    if case["expected"] == "PASS":
        assert (code, result.get("verified")) == (0, True), result
        facts = result["facts"]
        if "certificate_chain" in case:
            assert facts["mode"] == "certificate"
            assert facts["signer"]["identity"] == CERT_MODE_SIGNER.identity
        elif "public_key" in case:
            assert (facts["mode"], facts["signer"]["key_id"]) == ("key", "command-line")
        else:
            assert facts["mode"] == "keyless"
            assert facts["signer"]["identity"] == case["identity"]
            assert facts["trusted_root"] == "command-line"
        if case["kind"] == "sigstore-bundle":
            digest = hashlib.sha256(signing_fixture(case["artifact"]).read_bytes()).hexdigest()
            assert facts["artifact_digest"] == "sha256:" + digest
        return
    assert code == 1, result
    assert result["verified"] is False
    assert result["reason"] in {r.value for r in FAIL_REASONS[case["id"]]}, result
    assert result["detail"]


def by_digest(args: list[str], digest: str) -> list[str]:
    """The same command with ``--digest`` instead of ``--artifact DIR``."""
    at = args.index("--artifact")
    return [*args[:at], "--digest", digest, *args[at + 2 :]]


@pytest.mark.parametrize("case_id", case_ids("model-signing"))
def test_model_signature_by_digest_through_the_cli(
    case_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    case = expected_case(case_id)
    digest = model_digest(case)
    code, result = run(by_digest(cli_args(case), digest), capsys)
    if case["expected"] == "PASS":
        assert (code, result.get("verified")) == (0, True), result
        assert result["facts"]["model"]["digest"] == digest
        return
    assert (code, result["verified"]) == (1, False), result
    assert result["reason"] in {r.value for r in FAIL_REASONS[case["id"]]}, result


def test_model_signature_with_another_digest_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    case, tampered = map(expected_case, ("oms-tiny-key", "oms-tiny-tampered"))
    code, result = run(by_digest(cli_args(case), model_digest(tampered)), capsys)
    assert (code, result["reason"]) == (1, "subject_mismatch"), result
    # neither the model nor its digest: a usage error, not a verdict
    args = by_digest(cli_args(case), "")
    at = args.index("--digest")
    assert main([*args[:at], *args[at + 2 :]]) == 2
    capsys.readouterr()


def test_plain_output_names_signer_and_reason(capsys: pytest.CaptureFixture[str]) -> None:
    whl = expected_case(WHL)
    args = [a for a in cli_args(whl) if a != "--json"]
    assert main(args) == 0
    assert f"VERIFIED: sigstore_bundle signed by {whl['identity']}" in capsys.readouterr().out
    tampered = expected_case("tamper-signature")
    assert main([a for a in cli_args(tampered) if a != "--json"]) == 1
    assert "NOT VERIFIED: signature_invalid" in capsys.readouterr().out


def test_wrong_root_and_wrong_identity_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    staging = str(signing_fixture("trusted-roots/sigstore-staging.trusted_root.json"))
    whl = expected_case(WHL)
    args = cli_args(whl)
    at = args.index("--trusted-root") + 1
    code, result = run([*args[:at], staging, *args[at + 1 :]], capsys)
    assert (code, result["reason"]) == (1, "certificate_untrusted")
    at = args.index("--identity") + 1
    other = whl["identity"].replace("release.yml", "nightly.yml")
    code, result = run([*args[:at], other, *args[at + 1 :]], capsys)
    assert (code, result["reason"]) == (1, "identity_not_allowed")


def test_no_signer_allowed_fails_closed(capsys: pytest.CaptureFixture[str]) -> None:
    args = cli_args(expected_case(WHL))
    at = args.index("--identity")
    code, result = run([*args[:at], *args[at + 4 :]], capsys)
    assert (code, result["reason"]) == (1, "identity_not_allowed")


def test_identity_pattern_from_the_trust_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    whl = expected_case(WHL)
    monkeypatch.setenv("GOVERNANCE_TRUST_CONFIG", str(any_identity_config(whl, tmp_path)))
    args = cli_args(whl)
    at = args.index("--identity")
    code, result = run([*args[:at], *args[at + 4 :]], capsys)
    assert (code, result["facts"]["signer"]["identity"]) == (0, whl["identity"])


@pytest.mark.parametrize(
    "extra",
    [
        [],  # neither --artifact nor --digest
        ["--digest", "sha256:nothex"],
    ],
    ids=["no-artifact", "bad-digest"],
)
def test_usage_errors_exit_2(extra: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    bundle = str(signing_fixture(expected_case(WHL)["bundle"]))
    code = main(["attest", "verify", "--bundle", bundle, *extra])
    capsys.readouterr()
    assert code == 2


def test_missing_bundle_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["attest", "verify", "--bundle", str(tmp_path / "absent"), "--digest", "sha256:" + "0" * 64]
    )
    assert code == 2
    assert "cannot read bundle" in capsys.readouterr().err


def test_identity_regex_allows_a_family_of_signers(capsys: pytest.CaptureFixture[str]) -> None:
    signing = signing_fixture()
    common = [
        "attest", "verify", "--json",
        "--bundle", str(signing / "sigstore-python/bundle.txt.sigstore"),
        "--artifact", str(signing / "sigstore-python/bundle.txt"),
        "--trusted-root", str(signing / "trusted-roots/sigstore-staging.trusted_root.json"),
        "--issuer", "https://github.com/login/oauth",
    ]  # fmt: skip
    capsys.readouterr()
    assert main([*common, "--identity-regex", r".*@tny\.town"]) == 0
    assert json.loads(capsys.readouterr().out)["verified"] is True
    # A full match is required: a pattern matching only part of the identity is not enough.
    assert main([*common, "--identity-regex", "tny"]) == 1
    assert json.loads(capsys.readouterr().out)["reason"] == "identity_not_allowed"
    assert main([*common, "--identity-regex", "x", "--identity", "a@tny.town"]) == 2
