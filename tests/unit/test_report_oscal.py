"""``assessment-results.json``: valid OSCAL, deterministic, and every figure is the document's."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from reports import oscal
from reports.model import ReportData
from tests.reports_sample import sample_report_data


@pytest.fixture(scope="module")
def data() -> ReportData:
    return sample_report_data()


@pytest.fixture(scope="module")
def document(data: ReportData) -> dict[str, Any]:
    return oscal.assessment_results(data)


def _ar(document: dict[str, Any]) -> dict[str, Any]:
    ar: dict[str, Any] = document["assessment-results"]
    return ar


def _result(document: dict[str, Any]) -> dict[str, Any]:
    [result] = _ar(document)["results"]
    assert isinstance(result, dict)
    return result


def _props(item: dict[str, Any], name: str) -> list[str]:
    return [p["value"] for p in item.get("props", ()) if p["name"] == name]


# -- the schema -----------------------------------------------------------------------------------


def test_the_vendored_schema_is_nists_published_file() -> None:
    raw = oscal.SCHEMA_PATH.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == oscal.SCHEMA_SHA256
    schema = json.loads(raw)
    assert (
        schema["$id"] == f"http://csrc.nist.gov/ns/oscal/{oscal.OSCAL_VERSION}/oscal-ar-schema.json"
    )
    assert oscal.SCHEMA_PATH.parent.name == oscal.OSCAL_VERSION
    assert (oscal.SCHEMA_PATH.parent / "README.md").read_text().count(oscal.SCHEMA_SHA256) == 1


# -- the document ---------------------------------------------------------------------------------


def test_the_document_validates(document: dict[str, Any]) -> None:
    oscal.validate(document)
    assert _ar(document)["metadata"]["oscal-version"] == oscal.OSCAL_VERSION


def test_the_same_data_gives_the_same_bytes(data: ReportData) -> None:
    first = json.dumps(oscal.assessment_results(data), sort_keys=True).encode()
    again = ReportData.model_validate_json(data.model_dump_json())
    assert json.dumps(oscal.assessment_results(again), sort_keys=True).encode() == first


def test_uuids_are_version_5_unique_and_follow_the_report_id(
    data: ReportData, document: dict[str, Any]
) -> None:
    text = json.dumps(document)
    found = re.findall(r'"(?:uuid|observation-uuid)": "([0-9a-f-]{36})"', text)
    declared = re.findall(r'"uuid": "([0-9a-f-]{36})"', text)
    assert len(declared) == len(set(declared)) == 2 + 2 * len(data.controls) + 4
    assert all(uuid.UUID(u).version == 5 for u in found)
    other = data.model_copy(
        update={"report": data.report.model_copy(update={"report_id": "sha256:" + "0" * 64})}
    )
    assert not set(declared) & set(
        re.findall(r'"uuid": "([0-9a-f-]{36})"', json.dumps(oscal.assessment_results(other)))
    )


def test_times_and_period_come_from_the_document(
    data: ReportData, document: dict[str, Any]
) -> None:
    result = _result(document)
    assert (result["start"], result["end"]) == (data.report.period.start, data.report.period.end)
    assert _ar(document)["metadata"]["last-modified"] == data.report.generated_at
    assert {o["collected"] for o in result["observations"]} == {data.report.generated_at}


def test_result_counts_are_the_documents(data: ReportData, document: dict[str, Any]) -> None:
    result = _result(document)
    summary = data.summary
    assert _props(result, "decisions") == [str(summary.decisions)] == [str(len(data.decisions))]
    assert _props(result, "decisions-allow") == [str(summary.outcomes.allow)]
    assert _props(result, "decisions-deny") == [str(summary.outcomes.deny)]
    assert _props(result, "decisions-error") == [str(summary.outcomes.error)]
    assert _props(result, "break-glass") == [str(len(data.break_glass))]
    assert _props(result, "checkpoint-size") == [str(data.checkpoint.size)]
    [selection] = result["reviewed-controls"]["control-selections"]
    assert [c["control-id"] for c in selection["include-controls"]] == [
        c.control for c in data.controls
    ]


def test_one_observation_and_one_finding_per_control(
    data: ReportData, document: dict[str, Any]
) -> None:
    result = _result(document)
    observations = {o["uuid"]: o for o in result["observations"]}
    assert len(observations) == len(result["findings"]) == len(data.controls)
    waivers = {e.control: [str(e.index)] for e in data.exceptions}
    for control, finding in zip(data.controls, result["findings"], strict=True):
        assert finding["target"]["target-id"] == control.control
        [related] = finding["related-observations"]
        observation = observations[related["observation-uuid"]]
        assert _props(observation, "evidence-index") == [str(i) for i in control.evidence]
        assert _props(observation, "failed-in") == control.failed_in
        assert _props(observation, "waiver-index") == waivers.get(control.control, [])
        counted = f"{control.passed} passed, {control.failed} failed ({control.waived} waived)"
        assert counted in observation["description"]


def test_finding_status_follows_the_control_results(
    data: ReportData, document: dict[str, Any]
) -> None:
    status = {
        f["target"]["target-id"]: (f["target"]["status"]["state"], f["target"]["status"]["reason"])
        for f in _result(document)["findings"]
    }
    expected = {}
    for c in data.controls:
        if c.failed:
            expected[c.control] = ("not-satisfied", "fail")
        elif c.passed:
            expected[c.control] = ("satisfied", "pass")
        else:
            expected[c.control] = ("not-satisfied", "other")
    assert status == expected
    # The sample has each kind: failing (one waived), passing, and never evaluated.
    assert set(expected.values()) == {
        ("not-satisfied", "fail"),
        ("satisfied", "pass"),
        ("not-satisfied", "other"),
    }
    assert status["iso-a8.25"] == ("not-satisfied", "other")


def test_every_internal_reference_resolves(document: dict[str, Any]) -> None:
    ar = _ar(document)
    resources = {r["uuid"]: r for r in ar["back-matter"]["resources"]}
    assert ar["import-ap"]["href"].removeprefix("#") in resources
    hrefs = [
        e["href"] for o in _result(document)["observations"] for e in o.get("relevant-evidence", ())
    ]
    assert hrefs
    assert all(h.startswith("#") and h[1:] in resources for h in hrefs)
    files = {link["href"] for r in resources.values() for link in r.get("rlinks", ())}
    assert files == {"report-data.json", "proofs.json", "checkpoint.txt"}


def test_a_report_without_decisions_or_controls_validates(data: ReportData) -> None:
    empty = data.model_copy(update={"decisions": [], "controls": [], "exceptions": []})
    document = oscal.assessment_results(empty)
    oscal.validate(document)
    result = _result(document)
    assert "findings" not in result
    assert result["reviewed-controls"]["control-selections"][0]["include-all"] == {}


# -- validation -----------------------------------------------------------------------------------


def _finding(doc: dict[str, Any]) -> dict[str, Any]:
    finding: dict[str, Any] = _result(doc)["findings"][0]
    return finding


BROKEN: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "a finding state OSCAL does not have": (
        lambda d: _finding(d)["target"]["status"].update(state="error"),
        "$.assessment-results.results[0].findings[0].target.status.state",
    ),
    "a control id that is no token": (
        lambda d: _finding(d)["target"].update({"target-id": "1 bad"}),
        "$.assessment-results.results[0].findings[0].target.target-id",
    ),
    "a version-1 uuid": (
        lambda d: _ar(d).update(uuid=str(uuid.uuid1(node=1, clock_seq=1))),
        "$.assessment-results.uuid",
    ),
    "no import-ap": (lambda d: _ar(d).pop("import-ap"), "$.assessment-results"),
    "a time without a zone": (
        lambda d: _result(d).update(start="2026-11-01T00:00:00"),
        "$.assessment-results.results[0].start",
    ),
    "a string ending in a newline": (
        lambda d: _ar(d)["metadata"]["props"][0].update(value="sha256:abc\n"),
        "$.assessment-results.metadata.props[0].value",
    ),
    "an unknown member": (
        lambda d: _finding(d).update(status="satisfied"),
        "$.assessment-results.results[0].findings[0]",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_validate_names_the_first_problem(document: dict[str, Any], case: str) -> None:
    breaking, path = BROKEN[case]
    broken = copy.deepcopy(document)
    breaking(broken)
    with pytest.raises(oscal.InvalidAssessmentResults) as caught:
        oscal.validate(broken)
    assert caught.value.path == path
    assert path in str(caught.value)


# -- ECMA-262 patterns ----------------------------------------------------------------------------

TOKEN = r"^(\p{L}|_)(\p{L}|\p{N}|[.\-_])*$"


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("iso-a5.3", True),
        ("_x", True),
        ("contrôle-ß", True),
        ("控制٣", True),  # a CJK letter, an Arabic-Indic digit (Nd)
        ("a²Ⅻ", True),  # No and Nl are \p{N} too
        ("1a", False),
        ("-a", False),
        ("a b", False),
        ("a:b", False),
        ("a\n", False),
        ("", False),
    ],
)
def test_token_pattern_means_what_ecma_262_says(text: str, matches: bool) -> None:
    assert bool(re.search(oscal.python_pattern(TOKEN), text)) is matches


def test_ecma_262_anchors_dots_and_class_escapes() -> None:
    string = re.compile(oscal.python_pattern(r"^\S(.*\S)?$"))
    assert string.search("a b")
    assert not string.search("a\n")  # Python's own $ would accept it
    assert not string.search("a\rb")  # ECMA-262's . excludes every line terminator
    assert not string.search("a\u00a0")  # ECMA-262's \s includes NBSP
    digits = re.compile(oscal.python_pattern(r"^\d+$"))
    assert digits.search("2026")
    assert not digits.search("٢٠٢٦")  # ECMA-262's \d is ASCII
    assert oscal.python_pattern(r"[.\-_]") == r"[.\-_]"


@pytest.mark.parametrize("pattern", [r"\P{L}", r"\p{Lu}", r"[\D]", r"a[]", "a\\"])
def test_patterns_it_cannot_translate_exactly_are_refused(pattern: str) -> None:
    with pytest.raises(oscal.UnsupportedPattern):
        oscal.python_pattern(pattern)
