"""Checkpoints and C2SP signed notes, checked against an independent reader and Go's vectors."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.errors import CheckpointError, ConfigError
from governance.ledger.checkpoint import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    load_or_create_signing_key,
    parse_checkpoint_body,
)

# --- a second, independent reader of the note format ------------------------------------------
# Written from the C2SP signed-note / tlog-checkpoint texts, sharing no code with checkpoint.py.

EM_DASH_SPACE = "\N{EM DASH} "


@dataclass(frozen=True)
class RefKey:
    name: str
    key_hash: int
    public: Ed25519PublicKey


def ref_parse_vkey(vkey: str) -> RefKey:
    name, _, rest = vkey.partition("+")
    hash_hex, _, key_b64 = rest.partition("+")
    key = base64.b64decode(key_b64, validate=True)
    assert len(hash_hex) == 8
    assert key[0] == 1  # Ed25519
    assert len(key) == 33
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + key).digest()
    assert int.from_bytes(digest[:4], "big") == int(hash_hex, 16)
    return RefKey(name, int(hash_hex, 16), Ed25519PublicKey.from_public_bytes(key[1:]))


def ref_open(note: str, key: RefKey) -> str:
    """Return the text signed by ``key``; raise (assert / InvalidSignature) otherwise."""
    text, sep, sig_block = note.rpartition("\n\n")
    assert sep
    assert sig_block.endswith("\n")
    text += "\n"
    verified = 0
    for line in sig_block[:-1].split("\n"):
        assert line.startswith(EM_DASH_SPACE)
        name, b64 = line[len(EM_DASH_SPACE) :].split(" ")
        raw = base64.b64decode(b64, validate=True)
        if name == key.name and int.from_bytes(raw[:4], "big") == key.key_hash:
            key.public.verify(raw[4:], text.encode("utf-8"))
            verified += 1
    assert verified >= 1
    return text


def ref_parse_checkpoint(text: str) -> tuple[str, int, bytes]:
    origin, size, root, *extensions = text.removesuffix("\n").split("\n")
    assert all(extensions)
    assert size == str(int(size))
    return origin, int(size), base64.b64decode(root, validate=True)


# --- published vectors: golang.org/x/mod/sumdb/note (note_test.go) ----------------------------

PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6"
    "KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WW"
    "d1RvMc+QQ=\n"
)


def peter_private_key() -> Ed25519PrivateKey:
    # "PRIVATE+KEY+<name>+<hash>+<base64>", where the base64 may itself contain "+".
    seed = base64.b64decode(PETER_SKEY.split("+", 4)[4], validate=True)
    assert seed[0] == 1
    return Ed25519PrivateKey.from_private_bytes(seed[1:])


def test_reference_reader_accepts_the_go_vectors() -> None:
    # Validates the independent reader itself before it is trusted to judge NoteSigner.
    note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert ref_open(note, ref_parse_vkey(PETER_VKEY)) == GO_TEXT
    assert ref_open(note, ref_parse_vkey(ENOCH_VKEY)) == GO_TEXT


def test_go_vector_keys_parse() -> None:
    peter = NoteVerifier.from_verifier_key(PETER_VKEY)
    assert peter.name == "PeterNeumann"
    assert peter.key_id == bytes.fromhex("c74f20a3")
    assert peter.verifier_key == PETER_VKEY
    enoch = NoteVerifier.from_verifier_key(ENOCH_VKEY)
    assert enoch.key_id == bytes.fromhex("af0cfe78")


def test_signer_from_go_private_key_reproduces_the_go_verifier_key() -> None:
    signer = NoteSigner("PeterNeumann", peter_private_key())
    assert signer.key_id == bytes.fromhex("c74f20a3")
    assert signer.verifier_key == PETER_VKEY


def test_go_signature_is_reproduced_by_the_same_key() -> None:
    # Ed25519 is deterministic, so the published signature pins the message bytes signed.
    signature = peter_private_key().sign(GO_TEXT.encode())
    line = f"— PeterNeumann {base64.b64encode(bytes.fromhex('c74f20a3') + signature).decode()}\n"
    assert line == PETER_SIG


def test_go_signed_note_authenticates_with_both_keys() -> None:
    note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    for vkey in (PETER_VKEY, ENOCH_VKEY):
        verifier = NoteVerifier.from_verifier_key(vkey)
        assert verifier._verified_text(note) == GO_TEXT.encode()
        assert verifier._verified_text(note.encode()) == GO_TEXT.encode()
        # Authentic, but the text is not a checkpoint, so the public API still refuses it.
        with pytest.raises(CheckpointError, match="origin, size and root"):
            verifier.verify(note)


def test_any_text_is_signed_and_verified_as_the_go_tool_does() -> None:
    """Signed notes of other text than a checkpoint (a report's SHA256SUMS): the Go vector."""
    signer = NoteSigner("PeterNeumann", peter_private_key())
    assert signer.signature_line(GO_TEXT.encode()) == PETER_SIG
    note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert NoteVerifier.from_verifier_key(PETER_VKEY).verify_text(note) == GO_TEXT.encode()
    assert ref_open(note, ref_parse_vkey(PETER_VKEY)) == GO_TEXT
    changed = note.replace("problem,", "problem;")
    with pytest.raises(CheckpointError, match="invalid signature"):
        NoteVerifier.from_verifier_key(PETER_VKEY).verify_text(changed)
    for text in (b"no final newline", b"a\x01control\n", b"\xff\n"):
        with pytest.raises(CheckpointError):
            signer.signature_line(text)


def test_go_invalid_signature_vector_is_rejected() -> None:
    mangled = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    verifier = NoteVerifier.from_verifier_key(PETER_VKEY)
    with pytest.raises(CheckpointError):
        verifier._verified_text(GO_TEXT + "\n" + mangled)


@pytest.mark.parametrize(
    "message",
    [
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + GO_TEXT + "\n" + PETER_SIG,
        GO_TEXT + "\n" + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2"
        "pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        GO_TEXT + "\n" + PETER_SIG * 101,
    ],
)
def test_go_malformed_notes_are_rejected(message: str) -> None:
    verifier = NoteVerifier.from_verifier_key(PETER_VKEY)
    with pytest.raises(CheckpointError):
        verifier._verified_text(message)


def test_go_malformed_note_with_invalid_utf8_is_rejected() -> None:
    verifier = NoteVerifier.from_verifier_key(PETER_VKEY)
    with pytest.raises(CheckpointError):
        verifier._verified_text(b"\xff" + (GO_TEXT + "\n" + PETER_SIG).encode())


def _vkey_manglings() -> Iterator[str]:
    # Every proper substring and every single-byte increment, as in Go's TestNewVerifier.
    b = PETER_VKEY.encode()
    for i in range(len(b) + 1):
        for j in range(i + 1, len(b) + 1):
            if (i, j) != (0, len(b)):
                yield b[i:j].decode()
    for i in range(len(b)):
        yield (b[:i] + bytes([b[i] + 1]) + b[i + 1 :]).decode()
    yield "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
    yield "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"


def test_go_verifier_key_manglings_are_all_rejected() -> None:
    accepted = []
    for vkey in _vkey_manglings():
        try:
            NoteVerifier.from_verifier_key(vkey)
        except CheckpointError:
            continue
        accepted.append(vkey)
    assert accepted == []


# --- Checkpoint body ---------------------------------------------------------------------------

SPEC_ROOT = base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
SPEC_BODY = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"


def test_body_matches_the_tlog_checkpoint_example() -> None:
    cp = Checkpoint("example.com/behind-the-sofa", 20852163, SPEC_ROOT)
    assert cp.body() == SPEC_BODY
    assert parse_checkpoint_body(SPEC_BODY) == cp


def test_empty_tree_has_size_zero() -> None:
    cp = Checkpoint("log", 0, bytes(32))
    assert cp.body() == b"log\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    assert parse_checkpoint_body(cp.body()) == cp


def test_extension_lines_are_accepted_and_ignored() -> None:
    cp = parse_checkpoint_body(SPEC_BODY + b"ext one\n\xe2\x80\x94 two\n")
    assert cp == Checkpoint("example.com/behind-the-sofa", 20852163, SPEC_ROOT)


def test_maximum_tree_size() -> None:
    cp = parse_checkpoint_body(b"o\n18446744073709551615\n" + SPEC_BODY.split(b"\n")[2] + b"\n")
    assert cp.size == 2**64 - 1


_ROOT_LINE = b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\n",
        b"origin\n1\n" + _ROOT_LINE,  # no final newline
        b"origin\n1\n",  # no root
        b"\n1\n" + _ROOT_LINE + b"\n",  # empty origin
        b"origin\n\n1\n" + _ROOT_LINE + b"\n",  # blank line
        b"origin\n1\n" + _ROOT_LINE + b"\n\next\n",  # blank line before extension
        b"origin\n01\n" + _ROOT_LINE + b"\n",  # leading zero
        b"origin\n00\n" + _ROOT_LINE + b"\n",
        b"origin\n+1\n" + _ROOT_LINE + b"\n",
        b"origin\n-1\n" + _ROOT_LINE + b"\n",
        b"origin\n 1\n" + _ROOT_LINE + b"\n",
        b"origin\n1_0\n" + _ROOT_LINE + b"\n",
        b"origin\n\xd9\xa1\n" + _ROOT_LINE + b"\n",  # ARABIC-INDIC DIGIT ONE
        b"origin\n0x1\n" + _ROOT_LINE + b"\n",
        b"origin\n18446744073709551616\n" + _ROOT_LINE + b"\n",  # 2**64
        b"origin\n1" + b"0" * 30 + b"\n" + _ROOT_LINE + b"\n",
        b"origin\n1\n" + _ROOT_LINE[:-1] + b"\n",  # bad padding
        b"origin\n1\n" + _ROOT_LINE[:-1] + b"J\n",  # non-canonical trailing bits
        b"origin\n1\n" + base64.b64encode(bytes(31)) + b"\n",  # 31-byte root
        b"origin\n1\n" + base64.b64encode(bytes(33)) + b"\n",
        b"origin\n1\n" + base64.urlsafe_b64encode(b"\xff" * 32) + b"\n",  # URL alphabet
        b"origin\n1\n" + _ROOT_LINE + b" \n",
        b"ori\tgin\n1\n" + _ROOT_LINE + b"\n",  # control character
        b"origin\r\n1\n" + _ROOT_LINE + b"\n",
        b"\xff\n1\n" + _ROOT_LINE + b"\n",  # not UTF-8
    ],
)
def test_malformed_bodies_are_rejected(body: bytes) -> None:
    with pytest.raises(CheckpointError):
        parse_checkpoint_body(body)


@pytest.mark.parametrize(
    ("origin", "size", "root"),
    [
        ("", 1, bytes(32)),
        ("a\nb", 1, bytes(32)),
        ("a\x00", 1, bytes(32)),
        ("\ud800", 1, bytes(32)),
        ("o", -1, bytes(32)),
        ("o", 2**64, bytes(32)),
        ("o", True, bytes(32)),
        ("o", 1.0, bytes(32)),
        ("o", 1, bytes(31)),
        ("o", 1, bytearray(32)),
        ("o", 1, "0" * 32),
    ],
)
def test_invalid_checkpoints_cannot_be_constructed(
    origin: object, size: object, root: object
) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint(origin, size, root)  # type: ignore[arg-type]  # wrong types on purpose


_origins = st.text(st.characters(codec="utf-8", min_codepoint=0x20), min_size=1, max_size=40)
_checkpoints = st.builds(
    Checkpoint,
    origin=_origins,
    size=st.integers(0, 2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
)


@given(_checkpoints)
def test_body_round_trips(cp: Checkpoint) -> None:
    assert parse_checkpoint_body(cp.body()) == cp
    assert ref_parse_checkpoint(cp.body().decode()) == (cp.origin, cp.size, cp.root)


# --- signing and verifying ---------------------------------------------------------------------

LOG_NAME = "audit.example/ledger"
CP = Checkpoint(LOG_NAME, 123456, hashlib.sha256(b"root").digest())


@pytest.fixture(scope="module")
def signer() -> NoteSigner:
    return NoteSigner(LOG_NAME, Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def other_signer() -> NoteSigner:
    return NoteSigner("witness.example/w1", Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def verifier(signer: NoteSigner) -> NoteVerifier:
    return NoteVerifier.from_verifier_key(signer.verifier_key)


def test_note_shape(signer: NoteSigner) -> None:
    note = signer.sign(CP)
    body, sig_line = note.split("\n\n")
    assert (body + "\n").encode() == CP.body()
    assert sig_line.startswith("\u2014 " + LOG_NAME + " ")
    assert sig_line.endswith("\n")
    assert sig_line.count("\n") == 1
    raw = base64.b64decode(sig_line.rstrip("\n").split(" ")[2], validate=True)
    assert len(raw) == 4 + 64
    assert raw[:4] == signer.key_id


def test_signer_attributes_agree_with_independent_key_id(signer: NoteSigner) -> None:
    ref = ref_parse_vkey(signer.verifier_key)
    assert ref.name == signer.name
    assert ref.key_hash.to_bytes(4, "big") == signer.key_id
    raw = ref.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert raw == signer.public_key_raw
    expected_id = hashlib.sha256(LOG_NAME.encode() + b"\n\x01" + raw).digest()[:4]
    assert signer.key_id == expected_id
    assert (
        signer.verifier_key
        == f"{LOG_NAME}+{expected_id.hex()}+" + base64.b64encode(b"\x01" + raw).decode()
    )


@settings(max_examples=50, deadline=None)
@given(_checkpoints, st.sampled_from(["log", "example.com/log42", "journal.example/\u00fc\u00df"]))
def test_sign_then_verify_both_implementations(cp: Checkpoint, name: str) -> None:
    signer = NoteSigner(name, Ed25519PrivateKey.generate())
    note = signer.sign(cp)
    text = ref_open(note, ref_parse_vkey(signer.verifier_key))
    assert ref_parse_checkpoint(text) == (cp.origin, cp.size, cp.root)
    verifier = NoteVerifier.from_verifier_key(signer.verifier_key)
    assert verifier.verify(note) == cp
    assert verifier.verify(note.encode("utf-8")) == cp


def test_verifier_built_directly(signer: NoteSigner) -> None:
    public = Ed25519PublicKey.from_public_bytes(signer.public_key_raw)
    verifier = NoteVerifier(signer.name, signer.key_id, public)
    assert verifier.verify(signer.sign(CP)) == CP
    assert verifier.verifier_key == signer.verifier_key


def _replace_line(note: str, index: int, new: str) -> str:
    lines = note.split("\n")
    lines[index] = new
    return "\n".join(lines)


def _flip_signature_bit(note: str, byte_index: int, bit: int = 0) -> str:
    body, sig_line = note.split("\n\n")
    prefix, b64 = sig_line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(b64))
    raw[byte_index] ^= 1 << bit
    return f"{body}\n\n{prefix} {base64.b64encode(bytes(raw)).decode()}\n"


_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _non_canonical_signature(note: str) -> str:
    # 68 bytes leave 2 unused bits in the last base64 digit; setting one keeps the decoded
    # bytes (so the signature would still verify) but makes the encoding non-canonical.
    assert note.endswith("=\n")
    last = note[-3]
    bumped = _B64_ALPHABET[_B64_ALPHABET.index(last) | 1]
    assert bumped != last
    return note[:-3] + bumped + "=\n"


@pytest.mark.parametrize(
    ("what", "tamper"),
    [
        ("size", lambda n: _replace_line(n, 1, "123457")),
        ("size zero", lambda n: _replace_line(n, 1, "0")),
        ("root", lambda n: _replace_line(n, 2, base64.b64encode(bytes(32)).decode())),
        ("origin", lambda n: _replace_line(n, 0, LOG_NAME + "x")),
        ("extension line added", lambda n: n.replace("\n\n", "\nextra\n\n")),
        ("signature first bit", lambda n: _flip_signature_bit(n, 4)),
        ("signature middle bit", lambda n: _flip_signature_bit(n, 36, 5)),
        ("signature last bit", lambda n: _flip_signature_bit(n, 67, 7)),
        ("key id", lambda n: _flip_signature_bit(n, 0)),
        ("key id last byte", lambda n: _flip_signature_bit(n, 3, 3)),
        ("name", lambda n: n.replace("\u2014 " + LOG_NAME, "\u2014 " + LOG_NAME + "2")),
        ("signature truncated", lambda n: n[: n.rindex(" ") + 1] + "AAAAAAAA\n"),
        ("signature removed", lambda n: n.split("\n\n")[0] + "\n\n"),
        ("ascii dashes", lambda n: n.replace("\u2014 ", "-- ")),
        ("en dash", lambda n: n.replace("\u2014 ", "\u2013 ")),
        ("no final newline", lambda n: n.rstrip("\n")),
        ("crlf", lambda n: n.replace("\n", "\r\n")),
        ("trailing space", lambda n: n.rstrip("\n") + " \n"),
        ("non-canonical base64", _non_canonical_signature),
        ("excess padding", lambda n: n.rstrip("\n") + "=\n"),
    ],
)
def test_tampering_is_detected(
    signer: NoteSigner, verifier: NoteVerifier, what: str, tamper: Callable[[str], str]
) -> None:
    note = signer.sign(CP)
    tampered = tamper(note)
    assert tampered != note, what
    with pytest.raises(CheckpointError):
        verifier.verify(tampered)
    with pytest.raises(CheckpointError):
        verifier.verify(tampered.encode())


def test_wrong_key_is_rejected(signer: NoteSigner) -> None:
    note = signer.sign(CP)
    impostor = NoteSigner(LOG_NAME, Ed25519PrivateKey.generate())
    # Same name, different key, hence a different key id: no signature for it at all.
    with pytest.raises(CheckpointError, match="no signature"):
        NoteVerifier.from_verifier_key(impostor.verifier_key).verify(note)
    # Same name and key id but another public key: the signature itself must fail.
    colliding = NoteVerifier(LOG_NAME, signer.key_id, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(CheckpointError, match="invalid signature"):
        colliding.verify(note)
    with pytest.raises(CheckpointError):
        NoteVerifier.from_verifier_key(impostor.verifier_key).verify(impostor.sign(CP) + "x")


def test_note_signed_by_impostor_under_our_name_is_rejected(
    signer: NoteSigner, verifier: NoteVerifier
) -> None:
    impostor = NoteSigner(LOG_NAME, Ed25519PrivateKey.generate())
    forged_line = impostor.sign(CP).split("\n\n")[1]
    # The impostor copies our key id into its line; the signature does not verify.
    raw = base64.b64decode(forged_line.rstrip("\n").split(" ")[2], validate=True)
    forged = (
        CP.body().decode()
        + f"\n— {LOG_NAME} "
        + base64.b64encode(signer.key_id + raw[4:]).decode()
        + "\n"
    )
    with pytest.raises(CheckpointError, match="invalid signature"):
        verifier.verify(forged)


def _cosign(note: str, *signers: NoteSigner) -> str:
    body = note.split("\n\n")[0] + "\n"
    extra = "".join(s.sign(parse_checkpoint_body(body.encode())).split("\n\n")[1] for s in signers)
    return note + extra


def test_cosigned_notes_verify_for_every_signer(
    signer: NoteSigner, other_signer: NoteSigner, verifier: NoteVerifier
) -> None:
    note = _cosign(signer.sign(CP), other_signer)
    assert verifier.verify(note) == CP
    witness = NoteVerifier.from_verifier_key(other_signer.verifier_key)
    assert witness.verify(note) == CP
    assert ref_open(note, ref_parse_vkey(signer.verifier_key)) == CP.body().decode()
    assert ref_open(note, ref_parse_vkey(other_signer.verifier_key)) == CP.body().decode()
    # Order does not matter.
    reordered = _cosign(other_signer.sign(CP), signer)
    assert verifier.verify(reordered) == CP


def test_unknown_signature_lines_are_ignored(signer: NoteSigner, verifier: NoteVerifier) -> None:
    note = signer.sign(CP)
    junk = base64.b64encode(b"\x00" * 68).decode()
    same_name_other_id = f"— {LOG_NAME} {base64.b64encode(b'zzzz' + bytes(64)).decode()}\n"
    other_name_same_id = f"— other.example {base64.b64encode(signer.key_id + bytes(64)).decode()}\n"
    short_other = "— other.example " + base64.b64encode(b"12345").decode() + "\n"
    for extra in (f"— other.example {junk}\n", same_name_other_id, other_name_same_id, short_other):
        assert verifier.verify(note + extra) == CP
        head, sigs = note.split("\n\n")
        assert verifier.verify(head + "\n\n" + extra + sigs) == CP


def test_only_foreign_signatures_is_rejected(
    other_signer: NoteSigner, verifier: NoteVerifier
) -> None:
    with pytest.raises(CheckpointError, match="no signature"):
        verifier.verify(other_signer.sign(Checkpoint(LOG_NAME, 1, bytes(32))))


def test_a_bad_duplicate_of_our_signature_rejects_the_note(
    signer: NoteSigner, verifier: NoteVerifier
) -> None:
    note = signer.sign(CP)
    bad_line = _flip_signature_bit(note, 40).split("\n\n")[1]
    assert verifier.verify(note + note.split("\n\n")[1]) == CP  # an exact duplicate is fine
    with pytest.raises(CheckpointError):
        verifier.verify(note + bad_line)


@pytest.mark.parametrize(
    "extra",
    [
        "— other.example not*base64\n",
        "— other.example \n",
        "— other.example\n",
        "— bad name AAAAAAAA\n",
        "— a+b AAAAAAAA\n",
        "— other.example AAAA\n",  # fewer than 5 bytes
        "\n",
        "plain text\n",
    ],
)
def test_malformed_foreign_lines_reject_the_whole_note(
    signer: NoteSigner, verifier: NoteVerifier, extra: str
) -> None:
    with pytest.raises(CheckpointError):
        verifier.verify(signer.sign(CP) + extra)


def test_signature_limit(signer: NoteSigner, verifier: NoteVerifier) -> None:
    note = signer.sign(CP)
    line = note.split("\n\n")[1]
    assert verifier.verify(note + line * 99) == CP
    with pytest.raises(CheckpointError, match="more than 100"):
        verifier.verify(note + line * 100)


@pytest.mark.parametrize(
    "note",
    [
        "",
        "\n\n",
        b"\xff\xfe",
        "origin\n1\nAAAA\n\n\ud800\n",
    ],
)
def test_garbage_notes_are_rejected(verifier: NoteVerifier, note: str | bytes) -> None:
    with pytest.raises(CheckpointError):
        verifier.verify(note)


def test_a_signed_non_checkpoint_is_rejected(signer: NoteSigner, verifier: NoteVerifier) -> None:
    # Signed correctly by the right key, but the text is not a checkpoint body.
    body = b"audit.example/ledger\n007\n" + base64.b64encode(bytes(32)) + b"\n"
    sig = signer._private_key.sign(body)
    note = body.decode() + f"\n— {LOG_NAME} " + base64.b64encode(signer.key_id + sig).decode()
    assert ref_open(note + "\n", ref_parse_vkey(signer.verifier_key))
    with pytest.raises(CheckpointError, match="size"):
        verifier.verify(note + "\n")


def _sign_raw(signer: NoteSigner, body: bytes) -> str:
    # Bypasses Checkpoint validation to produce authentic notes with arbitrary text.
    sig = signer._private_key.sign(body)
    line = f"— {signer.name} " + base64.b64encode(signer.key_id + sig).decode() + "\n"
    return body.decode() + "\n" + line


@pytest.mark.parametrize("control", ["\x01", "\t", "\r", "\x1f", "\x00"])
def test_authentic_notes_with_control_characters_are_rejected(
    signer: NoteSigner, verifier: NoteVerifier, control: str
) -> None:
    body = CP.body() + f"ext{control}ension\n".encode()
    with pytest.raises(CheckpointError, match="control character"):
        verifier.verify(_sign_raw(signer, body))


def test_authentic_note_with_extension_lines_verifies(
    signer: NoteSigner, verifier: NoteVerifier
) -> None:
    note = _sign_raw(signer, CP.body() + "— not a signature\n\u00e9xt\n".encode())
    assert verifier.verify(note) == CP


# --- key names and verifier key strings --------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["", "a b", "a+b", "a\nb", "a\tb", "a\u00a0b", "a\u2003b", "a\x00b", "\ud800"]
)
def test_invalid_key_names(name: str) -> None:
    key = Ed25519PrivateKey.generate()
    with pytest.raises(CheckpointError):
        NoteSigner(name, key)
    with pytest.raises(CheckpointError):
        NoteVerifier(name, b"\x00" * 4, key.public_key())


def test_verifier_rejects_bad_key_id_and_key_types() -> None:
    key = Ed25519PrivateKey.generate()
    for key_id in (b"", b"abc", b"abcde"):
        with pytest.raises(CheckpointError):
            NoteVerifier("log", key_id, key.public_key())
    with pytest.raises(CheckpointError):
        NoteVerifier("log", b"abcd", key)  # type: ignore[arg-type]
    with pytest.raises(CheckpointError):
        NoteSigner("log", ec.generate_private_key(ec.SECP256R1()))  # type: ignore[arg-type]


def _vkey(name: str, key: bytes, key_hash: bytes | None = None) -> str:
    if key_hash is None:
        key_hash = hashlib.sha256(name.encode() + b"\n" + key).digest()[:4]
    return f"{name}+{key_hash.hex()}+{base64.b64encode(key).decode()}"


_PUB = bytes(range(32))


@pytest.mark.parametrize(
    ("vkey", "why"),
    [
        ("", "empty"),
        ("log", "no separators"),
        ("log+c74f20a3", "no key"),
        ("+c74f20a3+" + base64.b64encode(b"\x01" + _PUB).decode(), "empty name"),
        (_vkey("log", b"\x01" + _PUB).replace("log+", "log x+"), "space in name"),
        (_vkey("log", b"\x01" + _PUB, b"\x00\x00\x00\x00"), "key id mismatch"),
        (_vkey("log", b"\x01" + _PUB).upper().replace("LOG", "log"), "uppercase hex / key"),
        (_vkey("log", b"\x02" + _PUB), "not Ed25519"),
        (_vkey("log", b"\x01" + _PUB[:31]), "short key"),
        (_vkey("log", b"\x01" + _PUB + b"\x00"), "long key"),
        (_vkey("log", b""), "empty key"),
        (_vkey("log", b"\x01" + _PUB) + "=", "bad padding"),
        (_vkey("log", b"\x01" + _PUB) + "\n", "trailing newline"),
        (" " + _vkey("log", b"\x01" + _PUB), "leading space"),
        (_vkey("log", b"\x01" + _PUB).replace("+", "+0", 1), "9-digit key id"),
        ("log+c74f20a+" + base64.b64encode(b"\x01" + _PUB).decode(), "7-digit key id"),
        ("log+g74f20a3+" + base64.b64encode(b"\x01" + _PUB).decode(), "non-hex key id"),
    ],
)
def test_verifier_key_parse_errors(vkey: str, why: str) -> None:
    with pytest.raises(CheckpointError):
        NoteVerifier.from_verifier_key(vkey)


def test_verifier_key_round_trip(signer: NoteSigner) -> None:
    verifier = NoteVerifier.from_verifier_key(signer.verifier_key)
    assert verifier.name == signer.name
    assert verifier.key_id == signer.key_id
    assert verifier.verifier_key == signer.verifier_key
    assert signer.verifier_key in repr(verifier)
    assert "PRIVATE" not in repr(signer)


# --- key file ----------------------------------------------------------------------------------


@pytest.fixture
def no_umask() -> Iterator[None]:
    # umask 0 proves the 0600 comes from the code, not from a friendly environment.
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _public_raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_creates_key_with_mode_0600_in_new_directories(tmp_path: Path, no_umask: None) -> None:
    path = tmp_path / "a" / "b" / "checkpoint.pem"
    key = load_or_create_signing_key(path)
    assert isinstance(key, Ed25519PrivateKey)
    assert path.stat().st_mode & 0o777 == 0o600
    assert stat.S_ISREG(path.stat().st_mode)
    pem = path.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")  # PKCS#8, unencrypted
    loaded = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(loaded, Ed25519PrivateKey)
    assert _public_raw(loaded) == _public_raw(key)
    assert sorted(p.name for p in path.parent.iterdir()) == ["checkpoint.pem"]  # no temp files


def test_second_call_reuses_the_key(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    first = load_or_create_signing_key(path)
    before = path.read_bytes()
    second = load_or_create_signing_key(path)
    assert _public_raw(first) == _public_raw(second)
    assert path.read_bytes() == before
    assert _mode(path) == 0o600


def test_existing_key_file_is_used(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "key.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o400)
    assert _public_raw(load_or_create_signing_key(path)) == _public_raw(key)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o601, 0o660, 0o610])
def test_rejects_key_readable_by_others(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "key.pem"
    load_or_create_signing_key(path)
    path.chmod(mode)
    with pytest.raises(ConfigError) as info:
        load_or_create_signing_key(path)
    assert info.value.hint is not None
    assert "chmod 600" in info.value.hint


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


def test_rejects_non_ed25519_key(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    ec_key = ec.generate_private_key(ec.SECP256R1())
    _write_private(
        path,
        ec_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    with pytest.raises(ConfigError, match="not an Ed25519 key"):
        load_or_create_signing_key(path)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a key\n",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        b"\x00" * 100_000,
    ],
)
def test_rejects_garbage_key_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "key.pem"
    _write_private(path, content)
    with pytest.raises(ConfigError):
        load_or_create_signing_key(path)
    assert path.read_bytes() == content  # never overwritten


def test_rejects_encrypted_key(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    _write_private(
        path,
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        ),
    )
    with pytest.raises(ConfigError):
        load_or_create_signing_key(path)


def test_rejects_directory(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.mkdir(mode=0o700)
    with pytest.raises(ConfigError):
        load_or_create_signing_key(path)


def test_unreadable_key_file_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "key.pem"
    load_or_create_signing_key(path)
    real_open = os.open

    # chmod 000 does not stop root, so simulate the EACCES an unprivileged user would get.
    def deny(file: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(file) == path:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    with pytest.raises(ConfigError, match="Permission denied"):
        load_or_create_signing_key(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read mode 000 files")
def test_unreadable_key_file_for_real(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    load_or_create_signing_key(path)
    path.chmod(0o000)
    with pytest.raises(ConfigError):
        load_or_create_signing_key(path)


def test_losing_the_creation_race_uses_the_winners_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "key.pem"
    winner = Ed25519PrivateKey.generate()
    real_link = os.link

    def link_after_competitor(src: Any, dst: Any, **kwargs: Any) -> None:
        # Another process publishes its key between our first look and our link.
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(
                winner.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        real_link(src, dst, **kwargs)

    monkeypatch.setattr(os, "link", link_after_competitor)
    key = load_or_create_signing_key(path)
    assert _public_raw(key) == _public_raw(winner)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.pem"]


def test_concurrent_first_use_agrees_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "key.pem"
    workers = 8
    barrier = threading.Barrier(workers)

    def first_use(_: int) -> bytes:
        barrier.wait()  # maximise the overlap of the create attempts
        return _public_raw(load_or_create_signing_key(path))

    # map() re-raises any worker's exception here.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(first_use, range(workers)))
    assert len(set(results)) == 1
    assert _mode(path) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["key.pem"]
