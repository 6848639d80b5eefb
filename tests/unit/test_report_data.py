"""The report's pure parts: options, ids, control families, the bundle's zip and file formats."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from governance.errors import InputError
from governance.policy.bundle import load_bundle
from reports import bundle
from reports.catalog import family
from reports.data import ReportOptions, parse_time, report_id


def test_period_bounds_are_dates_or_zoned_times() -> None:
    assert parse_time("2026-03-01", "from") == "2026-03-01T00:00:00.000000Z"
    assert parse_time("2026-03-01T01:30:00+02:00", "to") == "2026-02-28T23:30:00.000000Z"
    assert parse_time("2026-03-01T00:00:00Z", "to") == "2026-03-01T00:00:00.000000Z"
    for bad in ("2026-03-01T00:00:00", "yesterday", "2026-13-01", ""):
        with pytest.raises(InputError, match="from must be a date"):
            parse_time(bad, "from")


def test_options_are_checked() -> None:
    options = ReportOptions.of("gdpr", "2026-01-01", "2026-02-01")
    assert (options.framework, options.checkpoint) == ("gdpr", None)
    with pytest.raises(InputError, match="framework"):
        ReportOptions.of("hipaa", "2026-01-01", "2026-02-01")
    with pytest.raises(InputError, match="period is empty"):
        ReportOptions.of("all", "2026-02-01", "2026-02-01")
    with pytest.raises(InputError, match="checkpoint"):
        ReportOptions.of("all", "2026-01-01", "2026-02-01", 0)


def test_the_report_id_names_the_options_and_the_checkpoint() -> None:
    options = ReportOptions.of("all", "2026-01-01", "2026-02-01")
    same = ReportOptions.of("all", "2026-01-01T00:00:00Z", "2026-02-01T01:00:00+01:00")
    assert report_id(options, 10) == report_id(same, 10)
    assert report_id(options, 10).startswith("sha256:")
    others = {
        report_id(options, 11),
        report_id(ReportOptions.of("gdpr", "2026-01-01", "2026-02-01"), 10),
        report_id(ReportOptions.of("all", "2026-01-02", "2026-02-01"), 10),
    }
    assert report_id(options, 10) not in others
    assert len(others) == 3


@pytest.mark.parametrize(
    ("framework", "article", "expected"),
    [
        ("gdpr", "Art. 6(1)", "GDPR Ch. II Principles"),
        ("gdpr", "Art. 17 / 21 (+ 32, 33)", "GDPR Ch. III Rights of the data subject"),
        ("gdpr", "Art. 35(1),(3) + 35(2)", "GDPR Ch. IV Controller and processor"),
        ("gdpr", "Ch. V, Art. 44–46, 49", "GDPR Ch. V Transfers to third countries"),
        ("uae_pdpl", "Art. 2", "PDPL Arts. 1–3 General provisions and scope"),
        ("uae_pdpl", "Arts. 15–17", "PDPL Arts. 13–19 Rights of the data subject"),
        ("uae_pdpl", "Art. 22 / Art. 23", "PDPL Arts. 22–23 Cross-border transfer"),
        ("iso27001", "A.5.9 + A.5.12", "ISO 27001 A.5 Organizational controls"),
        ("iso27001", "A.8.25 (+ A.8.4)", "ISO 27001 A.8 Technological controls"),
        ("iso27001", "Clause 9", "ISO 27001 other"),
    ],
)
def test_control_families(framework: str, article: str, expected: str) -> None:
    assert family(framework, article) == expected


def test_every_shipped_control_has_a_family() -> None:
    for control in load_bundle().controls():
        assert not family(control.framework, control.article).endswith(" other"), control.id


def test_the_checkpoint_file_is_the_note_then_the_key() -> None:
    note = "origin\n3\nAAAA\n\n\u2014 origin AAAA\n"
    text = note + "\n" + "origin+01234567+AAAA" + "\n"
    assert bundle._split_checkpoint_text(text) == (note, "origin+01234567+AAAA")
    with pytest.raises(ValueError, match="blank line"):
        bundle._split_checkpoint_text("no blank line\n")


def test_the_zip_is_deterministic(tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "b.txt").write_bytes(b"b" * 1000)
    (folder / "a.txt").write_bytes(b"a")
    bundle.zip_bundle(folder, tmp_path / "one.zip", "report-x")
    (folder / "a.txt").touch()  # a later modification time changes nothing
    bundle.zip_bundle(folder, tmp_path / "two.zip", "report-x")
    one = (tmp_path / "one.zip").read_bytes()
    assert one == (tmp_path / "two.zip").read_bytes()
    archive = zipfile.ZipFile(io.BytesIO(one))
    assert archive.namelist() == ["report-x/a.txt", "report-x/b.txt"]
    assert archive.read("report-x/b.txt") == b"b" * 1000
