"""The report bundle: written from ``report-data.json``, verified offline with no database.

A bundle is a directory::

    report.pdf                the report (regenerated from report-data.json by verify)
    report-data.json          the report's data, RFC 8785; its SHA-256 is the data digest
    decisions.csv, controls.csv, evidence.csv, exceptions.csv, soa.csv
    assessment-results.json   OSCAL Assessment Results
    checkpoint.txt            the signed checkpoint note, a blank line, the verifier key
    proofs.json               an inclusion proof of every cited entry in the checkpoint's tree
    manifest.json             every file above by SHA-256 and size; report id, data digest,
                              checkpoint
    SHA256SUMS                ``sha256sum`` lines of every file above and the manifest
    SHA256SUMS.sig            the ledger key's signature line over SHA256SUMS: the two make a
                              C2SP signed note (SHA256SUMS, a blank line, the line)

Every file is a function of ``report-data.json``, the checkpoint's proofs and the key, so the same
checkpoint and options give byte-identical bundles. :func:`verify_bundle` names the first file
that is wrong; it never answers with a bare boolean.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from governance.errors import CheckpointError, InputError, ProofError
from governance.ledger import merkle
from governance.ledger.canonical import canonical_json
from governance.ledger.checkpoint import NoteSigner, NoteVerifier
from reports import oscal, pdf, tables
from reports.model import ReportData

__all__ = [
    "BUNDLE_FORMAT",
    "CHECKPOINT",
    "DATA",
    "MANIFEST",
    "PROOFS",
    "SIGNATURE",
    "SUMS",
    "VERIFY_STEPS",
    "Problem",
    "VerifyResult",
    "WrittenBundle",
    "data_bytes",
    "rendered",
    "verify_bundle",
    "write_bundle",
    "zip_bundle",
]

BUNDLE_FORMAT = "governance-audit-report/1"
PROOFS_FORMAT = "governance-audit-report-proofs/1"

DATA = "report-data.json"
PDF = "report.pdf"
OSCAL = "assessment-results.json"
CHECKPOINT = "checkpoint.txt"
PROOFS = "proofs.json"
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
SIGNATURE = "SHA256SUMS.sig"

#: Inclusion proofs computed per call of the proof source.
_PROOF_CHUNK = 1000
_READ_CHUNK = 1 << 20

#: ``(indexes, size) -> {index: audit path}``: the ledger's batched inclusion proofs.
ProofSource = Callable[[Sequence[int], int], Mapping[int, Sequence[bytes]]]
#: Reports progress as (stage, done, total).
Progress = Callable[[str, int, int | None], None]

#: The steps of :func:`verify_bundle`, in order.
VERIFY_STEPS = (
    "signature",
    "hashes",
    "manifest",
    "checkpoint",
    "report data",
    "inclusion proofs",
    "regeneration",
    "OSCAL schema",
)


def data_bytes(data: ReportData) -> bytes:
    """``report-data.json``: the document in RFC 8785 canonical JSON."""
    return canonical_json(data.model_dump(mode="json"))


def rendered(data: ReportData) -> dict[str, bytes]:
    """Every file computed from the document alone: the data, the PDF, the CSVs, OSCAL."""
    oscal_document = oscal.assessment_results(data)
    canonical = data_bytes(data)
    files = {
        DATA: canonical,
        PDF: pdf.render_pdf(data, canonical),
        OSCAL: (json.dumps(oscal_document, indent=2, ensure_ascii=False) + "\n").encode(),
    }
    for name, content in tables.csv_files(data).items():
        if name in files or "/" in name:
            raise ValueError(f"a table would overwrite or escape the bundle: {name!r}")
        files[name] = content
    return files


def _checkpoint_text(data: ReportData) -> bytes:
    return (data.checkpoint.note + "\n" + data.checkpoint.public_key + "\n").encode()


def _split_checkpoint_text(text: str) -> tuple[str, str]:
    """checkpoint.txt's note and verifier key (the note ends at the last blank line)."""
    split = text.rstrip("\n").rfind("\n\n")
    if split < 0 or not text.endswith("\n"):
        raise ValueError("it is not a signed note, a blank line and a verifier key")
    return text[: split + 1], text[split + 2 :].strip()


def _sums(digests: Mapping[str, str]) -> bytes:
    """``sha256sum`` lines (two spaces: binary-agnostic text mode), by file name."""
    return "".join(f"{digests[name]}  {name}\n" for name in sorted(digests)).encode()


@dataclass(frozen=True, slots=True)
class WrittenBundle:
    """What :func:`write_bundle` wrote: the manifest and the two digests the ledger records."""

    directory: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    data_sha256: str


def _proof_lines(
    data: ReportData, proofs: ProofSource, progress: Progress | None
) -> Iterator[bytes]:
    size = data.checkpoint.size
    header = {"format": PROOFS_FORMAT, "tree_size": size, "root": data.checkpoint.root}
    yield json.dumps(header, separators=(",", ":"))[:-1].encode() + b',"proofs":[\n'
    indexes = [e.index for e in data.evidence]
    leaves = {e.index: e.leaf_hash for e in data.evidence}
    for start in range(0, len(indexes), _PROOF_CHUNK):
        chunk = indexes[start : start + _PROOF_CHUNK]
        paths = proofs(chunk, size)
        for position, index in enumerate(chunk):
            proof = {
                "index": index,
                "leaf_hash": leaves[index],
                "hashes": [h.hex() for h in paths[index]],
            }
            last = start + position == len(indexes) - 1
            yield json.dumps(proof, separators=(",", ":")).encode() + (b"\n" if last else b",\n")
        if progress is not None:
            progress("proofs", start + len(chunk), len(indexes))
    yield b"]}\n"


def write_bundle(
    out: Path,
    data: ReportData,
    proofs: ProofSource,
    signer: NoteSigner,
    *,
    progress: Progress | None = None,
) -> WrittenBundle:
    """Write the bundle of ``data`` into ``out`` (a new or empty directory).

    ``proofs`` gives the inclusion proofs of the cited entries in the checkpoint's tree;
    ``signer`` is the ledger's key, which must be the one ``data.checkpoint.public_key`` names.
    """
    if signer.verifier_key != data.checkpoint.public_key:
        raise InputError("the signing key is not the ledger key the report's checkpoint names")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out} exists and is not an empty directory", hint="choose a new one")
    files = rendered(data)
    # An invalid document is the renderer's bug: refuse to issue it (before writing anything).
    oscal.validate(json.loads(files[OSCAL]))
    if progress is not None:
        progress("rendering", len(files), len(files))
    out.mkdir(parents=True, exist_ok=True)
    digests: dict[str, str] = {}
    sizes: dict[str, int] = {}

    def keep(name: str, content: bytes) -> None:
        (out / name).write_bytes(content)
        digests[name] = hashlib.sha256(content).hexdigest()
        sizes[name] = len(content)

    for name, content in files.items():
        keep(name, content)
    keep(CHECKPOINT, _checkpoint_text(data))
    digest = hashlib.sha256()
    size = 0
    with (out / PROOFS).open("wb") as f:
        for line in _proof_lines(data, proofs, progress):
            f.write(line)
            digest.update(line)
            size += len(line)
    digests[PROOFS], sizes[PROOFS] = digest.hexdigest(), size
    manifest = {
        "format": BUNDLE_FORMAT,
        "report_id": data.report.report_id,
        "framework": data.report.framework,
        "period": data.report.period.model_dump(),
        "checkpoint": {"size": data.checkpoint.size, "root": data.checkpoint.root},
        "public_key": data.checkpoint.public_key,
        "data_sha256": digests[DATA],
        "generated_by": data.report.generated_by,
        "files": {n: {"sha256": digests[n], "size": sizes[n]} for n in sorted(digests)},
    }
    manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    keep(MANIFEST, manifest_bytes)
    sums = _sums(digests)
    (out / SUMS).write_bytes(sums)
    (out / SIGNATURE).write_text(signer.signature_line(sums))
    return WrittenBundle(out, manifest, digests[MANIFEST], digests[DATA])


def zip_bundle(directory: Path, target: Path, folder: str) -> None:
    """Write ``directory``'s files to the zip ``target`` under ``folder/``, deterministically.

    Names in order, one fixed time stamp and mode, the same compression: the same bundle gives
    the same zip bytes.
    """
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(directory.iterdir()):
            info = zipfile.ZipInfo(f"{folder}/{path.name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with path.open("rb") as source, archive.open(info, "w") as sink:
                while chunk := source.read(_READ_CHUNK):
                    sink.write(chunk)


# -- verification -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """The first thing found wrong: which file, and what."""

    file: str
    message: str

    def describe(self) -> str:
        """``<file>: <message>``."""
        return f"{self.file}: {self.message}"


@dataclass
class VerifyResult:
    """What :func:`verify_bundle` found: each step's outcome, and the first problem, if any.

    Inspect :attr:`problem` (or :attr:`ok`); a bundle with a problem must not be trusted.
    """

    directory: Path
    #: Whether no key was given and the one in ``checkpoint.txt`` was used: that proves only
    #: that the bundle is internally consistent, not who signed it.
    self_trusted: bool
    steps: list[dict[str, str]] = field(default_factory=list)
    problem: Problem | None = None
    report_id: str | None = None
    checkpoint_size: int | None = None

    @property
    def ok(self) -> bool:
        """Every step ran and passed."""
        return self.problem is None and len(self.steps) == len(VERIFY_STEPS)

    def to_json(self) -> dict[str, Any]:
        """As ``governance report verify --json`` prints it."""
        return {
            "bundle": str(self.directory),
            "verified": self.ok,
            "problem": None
            if self.problem is None
            else {"file": self.problem.file, "message": self.problem.message},
            "report_id": self.report_id,
            "checkpoint_size": self.checkpoint_size,
            "self_trusted": self.self_trusted,
            "steps": self.steps,
        }


class _Found(Exception):
    """A problem in one file; stops verification."""

    def __init__(self, file: str, message: str) -> None:
        super().__init__(message)
        self.problem = Problem(file, message)


class _Bundle:
    """The files of a bundle directory, each read and hashed at most once."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._digests: dict[str, str] = {}

    def names(self) -> list[str]:
        return sorted(p.name for p in self.directory.iterdir())

    def read(self, name: str) -> bytes:
        try:
            return (self.directory / name).read_bytes()
        except FileNotFoundError:
            raise _Found(name, "missing") from None
        except OSError as exc:
            raise _Found(name, f"cannot be read: {exc.strerror}") from None

    def text(self, name: str) -> str:
        try:
            return self.read(name).decode("utf-8")
        except UnicodeDecodeError:
            raise _Found(name, "is not UTF-8 text") from None

    def digest(self, name: str) -> str:
        if name not in self._digests:
            path = self.directory / name
            if not path.is_file():
                raise _Found(name, "missing")
            h = hashlib.sha256()
            with path.open("rb") as f:
                while chunk := f.read(_READ_CHUNK):
                    h.update(chunk)
            self._digests[name] = h.hexdigest()
        return self._digests[name]


@dataclass
class _State:
    """What the steps learn and pass on."""

    verifier: NoteVerifier | None = None
    listed: dict[str, str] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    data: ReportData | None = None
    root: bytes = b""


def _parse_sums(text: str) -> dict[str, str]:
    listed: dict[str, str] = {}
    for line in text.splitlines():
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or name in listed:
            raise ValueError(line)
        if not name or name.startswith(".") or "/" in name or "\\" in name:
            raise ValueError(line)
        listed[name] = digest
    return listed


def _step_signature(bundle: _Bundle, state: _State) -> str:
    """1. SHA256SUMS is signed by the key.

    When it is not, the blame goes to SHA256SUMS.sig if SHA256SUMS is what the files say, and
    to SHA256SUMS otherwise.
    """
    assert state.verifier is not None
    sums = bundle.read(SUMS)
    signature = bundle.read(SIGNATURE)
    try:
        state.verifier.verify_text(sums + b"\n" + signature)
    except CheckpointError as exc:
        try:
            present = {n: bundle.digest(n) for n in _parse_sums(sums.decode())}
            recomputed = _sums(present)
        except (ValueError, UnicodeDecodeError, _Found):
            recomputed = b""
        if recomputed != sums:
            raise _Found(SUMS, f"changed: its signature does not verify ({exc.message})") from None
        raise _Found(SIGNATURE, f"does not verify: {exc.message}") from None
    try:
        state.listed = _parse_sums(sums.decode())
    except (ValueError, UnicodeDecodeError):
        raise _Found(SUMS, "is signed but not sha256sum lines") from None
    return f"signed by {state.verifier.name}"


def _step_hashes(bundle: _Bundle, state: _State) -> str:
    """2. Every file SHA256SUMS lists is there with its digest, and nothing else is."""
    for name, digest in state.listed.items():
        if bundle.digest(name) != digest:
            raise _Found(name, "its SHA-256 is not the one SHA256SUMS lists")
    for name in bundle.names():
        if name not in state.listed and name not in (SUMS, SIGNATURE):
            raise _Found(name, "is not part of the bundle (SHA256SUMS does not list it)")
    return f"{len(state.listed)} files match"


def _step_manifest(bundle: _Bundle, state: _State) -> str:
    """3. The manifest lists the same files, with their digests and sizes."""
    try:
        manifest = json.loads(bundle.read(MANIFEST))
    except ValueError:
        raise _Found(MANIFEST, "is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise _Found(MANIFEST, f"is not a {BUNDLE_FORMAT} manifest")
    files = manifest.get("files")
    expected = set(state.listed) - {MANIFEST}
    if not isinstance(files, dict) or set(files) != expected:
        raise _Found(MANIFEST, "does not list the files SHA256SUMS lists")
    for name, entry in files.items():
        if not isinstance(entry, dict) or entry.get("sha256") != state.listed[name]:
            raise _Found(MANIFEST, f"gives another SHA-256 for {name}")
        if entry.get("size") != (bundle.directory / name).stat().st_size:
            raise _Found(name, "its size is not the one the manifest gives")
    if manifest.get("data_sha256") != state.listed.get(DATA):
        raise _Found(DATA, "its SHA-256 is not the manifest's data digest")
    state.manifest = manifest
    return f"report {manifest.get('report_id')}"


def _step_checkpoint(bundle: _Bundle, state: _State) -> str:
    """4. checkpoint.txt's note is signed by the key, for the manifest's size and root."""
    assert state.verifier is not None
    try:
        note, _key = _split_checkpoint_text(bundle.text(CHECKPOINT))
        checkpoint = state.verifier.verify(note)
    except (ValueError, CheckpointError) as exc:
        message = exc.message if isinstance(exc, CheckpointError) else str(exc)
        raise _Found(CHECKPOINT, f"does not verify: {message}") from None
    claimed = state.manifest.get("checkpoint") or {}
    if checkpoint.size != claimed.get("size") or checkpoint.root.hex() != claimed.get("root"):
        raise _Found(MANIFEST, "names another checkpoint than checkpoint.txt")
    state.root = checkpoint.root
    return f"{checkpoint.size} entries, root {checkpoint.root.hex()}"


def _step_data(bundle: _Bundle, state: _State) -> str:
    """5. report-data.json is a valid document in canonical form, for the same report."""
    raw = bundle.read(DATA)
    try:
        data = ReportData.model_validate_json(raw)
    except ValidationError as exc:
        raise _Found(DATA, f"is not a report-data document: {exc.error_count()} errors") from None
    if data_bytes(data) != raw:
        raise _Found(DATA, "is not in canonical form (RFC 8785)")
    note, key = _split_checkpoint_text(bundle.text(CHECKPOINT))
    if data.checkpoint.note != note or data.checkpoint.public_key != key:
        raise _Found(DATA, "names another checkpoint or key than checkpoint.txt")
    if (
        data.report.report_id != state.manifest.get("report_id")
        or data.report.framework != state.manifest.get("framework")
        or data.report.period.model_dump() != state.manifest.get("period")
    ):
        raise _Found(MANIFEST, "names another report than report-data.json")
    state.data = data
    return f"{len(data.decisions)} decisions, {len(data.evidence)} cited entries"


def _proof_records(bundle: _Bundle) -> Iterator[dict[str, Any]]:
    path = bundle.directory / PROOFS
    with path.open("rb") as f:
        header = f.readline()
        if not header.endswith(b',"proofs":[\n'):
            raise ValueError("no proofs header")
        yield json.loads(header[: -len(b',"proofs":[\n')] + b"}")
        for line in f:
            if line == b"]}\n":
                return
            yield json.loads(line.rstrip(b",\n"))
        raise ValueError("truncated")


def _step_proofs(bundle: _Bundle, state: _State) -> str:
    """6. An inclusion proof of every cited entry leads to the checkpoint's root."""
    assert state.data is not None
    data = state.data
    wanted = iter(data.evidence)
    size = data.checkpoint.size
    count = 0
    try:
        records = _proof_records(bundle)
        header = next(records)
        if header != {"format": PROOFS_FORMAT, "tree_size": size, "root": state.root.hex()}:
            raise _Found(PROOFS, "is not for the report's checkpoint")
        for record in records:
            cited = next(wanted, None)
            if cited is None or record.get("index") != cited.index:
                raise _Found(PROOFS, f"does not prove the cited entries in order (at {count})")
            if record.get("leaf_hash") != cited.leaf_hash:
                raise _Found(PROOFS, f"entry {cited.index}: not the leaf hash the report cites")
            hashes = [bytes.fromhex(h) for h in record["hashes"]]
            merkle.verify_inclusion(
                bytes.fromhex(cited.leaf_hash), cited.index, size, hashes, state.root
            )
            count += 1
    except ProofError as exc:
        raise _Found(PROOFS, f"entry {data.evidence[count].index}: {exc.message}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _Found(PROOFS, f"is malformed: {exc}") from None
    if next(wanted, None) is not None:
        raise _Found(PROOFS, f"proves {count} of the {len(data.evidence)} cited entries")
    return f"{count} entries proven in the tree of {size}"


def _step_regeneration(bundle: _Bundle, state: _State) -> str:
    """7. The PDF, the CSVs and the OSCAL document are what report-data.json renders."""
    assert state.data is not None
    files = rendered(state.data)
    for name in sorted(files):
        if hashlib.sha256(files[name]).hexdigest() != bundle.digest(name):
            raise _Found(name, "is not what report-data.json renders")
    expected = {*files, CHECKPOINT, PROOFS, MANIFEST}
    if set(state.listed) != expected:
        extra = sorted(set(state.listed) ^ expected)
        raise _Found(extra[0], "is not a file this report's bundle has")
    return f"{len(files)} files regenerated byte for byte"


def _step_oscal(bundle: _Bundle, state: _State) -> str:
    """8. The OSCAL document validates against the vendored, published OSCAL JSON Schema."""
    try:
        oscal.validate(json.loads(bundle.read(OSCAL)))
    except ValueError as exc:
        raise _Found(OSCAL, f"does not validate: {exc}") from None
    return f"valid OSCAL {oscal.OSCAL_VERSION} Assessment Results"


_STEPS: tuple[Callable[[_Bundle, _State], str], ...] = (
    _step_signature,
    _step_hashes,
    _step_manifest,
    _step_checkpoint,
    _step_data,
    _step_proofs,
    _step_regeneration,
    _step_oscal,
)


def verify_bundle(directory: Path, public_key: str | None = None) -> VerifyResult:
    """Check a report bundle offline (no database, no server) and name the first problem.

    1. ``SHA256SUMS`` is signed by the key (``public_key``, obtained out of band; without it
       the key in ``checkpoint.txt``, which proves only internal consistency);
    2. every file has the SHA-256 ``SHA256SUMS`` lists, and there is no other file;
    3. ``manifest.json`` lists the same files, sizes and digests, and the data digest;
    4. ``checkpoint.txt`` is a note signed by the key, for the manifest's checkpoint;
    5. ``report-data.json`` is a valid document in canonical form, for the same report and
       checkpoint;
    6. every cited entry's inclusion proof leads to the checkpoint's root;
    7. the PDF, the CSVs and the OSCAL document regenerated from ``report-data.json`` are the
       bundle's bytes;
    8. the OSCAL document validates against the published OSCAL JSON Schema (vendored).

    Raises :class:`InputError` when ``directory`` is no directory or the key is malformed;
    anything wrong inside the bundle is the result's :attr:`~VerifyResult.problem`.
    """
    if not directory.is_dir():
        raise InputError(f"{directory} is not a directory")
    bundle = _Bundle(directory)
    result = VerifyResult(directory, self_trusted=public_key is None)
    state = _State()
    try:
        key = public_key
        if key is None:
            try:
                _note, key = _split_checkpoint_text(bundle.text(CHECKPOINT))
            except ValueError:
                raise _Found(CHECKPOINT, "holds no verifier key") from None
        try:
            state.verifier = NoteVerifier.from_verifier_key(key.strip())
        except CheckpointError as exc:
            if public_key is None:
                raise _Found(CHECKPOINT, f"holds an unusable key: {exc.message}") from None
            raise InputError(f"the public key is malformed: {exc.message}") from None
        for name, step in zip(VERIFY_STEPS, _STEPS, strict=True):
            detail = step(bundle, state)
            result.steps.append({"step": name, "status": "ok", "detail": detail})
    except _Found as found:
        result.problem = found.problem
        step_name = VERIFY_STEPS[len(result.steps)] if len(result.steps) < len(_STEPS) else ""
        result.steps.append(
            {"step": step_name, "status": "failed", "detail": found.problem.describe()}
        )
    checkpoint = state.manifest.get("checkpoint") or {}
    result.report_id = state.manifest.get("report_id")
    result.checkpoint_size = checkpoint.get("size")
    return result
