r"""Signed tree heads: C2SP tlog-checkpoint bodies inside C2SP signed notes, with Ed25519.

A checkpoint body (https://c2sp.org/tlog-checkpoint) is::

    <origin>\n<tree size in decimal>\n<base64 of the 32-byte root hash>\n

and a signed note (https://c2sp.org/signed-note) appends a blank line and one signature line
per signer::

    — <key name> <base64(4-byte key id || 64-byte Ed25519 signature over the body)>\n

The key id is ``SHA-256(key name || 0x0A || 0x01 || raw public key)[:4]``, and a verifier key
is shared as ``<name>+<key id hex>+<base64(0x01 || raw public key)>``, interoperable with
``golang.org/x/mod/sumdb/note`` and the transparency-dev tooling.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from governance.errors import CheckpointError, ConfigError

__all__ = [
    "Checkpoint",
    "NoteSigner",
    "NoteVerifier",
    "load_or_create_signing_key",
    "parse_checkpoint_body",
]

_ALG_ED25519 = b"\x01"
_SIG_PREFIX = "\u2014 "  # em dash, space
_ROOT_SIZE = 32
_ED25519_SIG_SIZE = 64
# Go's note.Open stops at 100; C2SP only asks for at least 16. Bounds work on hostile input.
_MAX_SIGNATURES = 100
_MAX_TREE_SIZE = 2**64 - 1  # tree sizes are uint64 everywhere else in the ecosystem
_MAX_KEY_FILE_BYTES = 64 * 1024

# Signed notes must not contain ASCII control characters other than newline.
_FORBIDDEN_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_TREE_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")
_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}")


def _b64decode_strict(text: str) -> bytes:
    """Decode standard base64, accepting only the canonical encoding of the result."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError) as exc:
        raise CheckpointError(f"invalid base64: {text[:16]!r}") from exc
    # validate=True still tolerates excess "=" after a full quantum and non-zero trailing
    # bits; re-encoding rejects both, so each value has exactly one accepted spelling.
    if base64.b64encode(raw).decode("ascii") != text:
        raise CheckpointError(f"non-canonical base64: {text[:16]!r}")
    return raw


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _is_valid_key_name(name: str) -> bool:
    # C2SP: non-empty, no Unicode spaces, no "+". Control characters are excluded as well
    # because they may not appear anywhere in a note; lone surrogates cannot be UTF-8.
    if not name or "+" in name or _FORBIDDEN_CONTROL.search(name):
        return False
    if any(c.isspace() for c in name):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _key_id(name: str, public_key_raw: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + _ALG_ED25519 + public_key_raw).digest()[:4]


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log's origin, its size (number of leaves) and its Merkle root hash."""

    origin: str
    size: int
    root: bytes

    def __post_init__(self) -> None:
        """Refuse values that would not serialise to a parseable body."""
        if not isinstance(self.origin, str) or not self.origin:
            raise CheckpointError("checkpoint origin must be a non-empty string")
        if "\n" in self.origin or _FORBIDDEN_CONTROL.search(self.origin):
            raise CheckpointError("checkpoint origin must not contain control characters")
        try:
            self.origin.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise CheckpointError("checkpoint origin is not valid Unicode text") from exc
        # bool is an int subclass; True as a tree size is a bug, not a size of 1.
        if type(self.size) is not int or not 0 <= self.size <= _MAX_TREE_SIZE:
            raise CheckpointError(
                f"checkpoint size must be an integer in 0..2**64-1: {self.size!r}"
            )
        if not isinstance(self.root, bytes) or len(self.root) != _ROOT_SIZE:
            raise CheckpointError(f"checkpoint root must be {_ROOT_SIZE} bytes")

    def body(self) -> bytes:
        """Return the note text: origin, size and base64 root, each ending in a newline."""
        return f"{self.origin}\n{self.size}\n{_b64encode(self.root)}\n".encode()


def parse_checkpoint_body(body: bytes) -> Checkpoint:
    """Parse a checkpoint note text, accepting and ignoring any extension lines.

    Raises ``CheckpointError`` if ``body`` is not UTF-8, does not end in a newline, has an
    empty line or fewer than three lines, or any of origin, size or root is malformed.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointError("checkpoint body is not valid UTF-8") from exc
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint body must end with a newline")
    if _FORBIDDEN_CONTROL.search(text):
        raise CheckpointError("checkpoint body contains a control character")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("checkpoint body needs origin, size and root lines")
    if any(not line for line in lines):
        raise CheckpointError("checkpoint body contains an empty line")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    # int() would accept "+1", " 1", "1_0" and non-ASCII digits; the spec allows none.
    if not _TREE_SIZE.fullmatch(size_text):
        raise CheckpointError(f"invalid checkpoint size: {size_text[:24]!r}")
    size = int(size_text)
    # Canonical base64 only (see _b64decode_strict), so each tree head has one body.
    root = _b64decode_strict(root_text)
    if len(root) != _ROOT_SIZE:
        raise CheckpointError("checkpoint root must be the base64 of a 32-byte hash")
    return Checkpoint(origin=origin, size=size, root=root)


class NoteSigner:
    """Signs checkpoints as C2SP signed notes with one named Ed25519 key."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        """Bind ``private_key`` to the key ``name`` (no spaces, "+" or newlines)."""
        if not _is_valid_key_name(name):
            raise CheckpointError(f"invalid note key name: {name!r}")
        if not isinstance(private_key, Ed25519PrivateKey):
            raise CheckpointError("note signing key must be an Ed25519 private key")
        self.name = name
        self._private_key = private_key
        self.public_key_raw = _raw_public(private_key.public_key())
        self.key_id = _key_id(name, self.public_key_raw)

    @property
    def verifier_key(self) -> str:
        """The public verifier key string, ``<name>+<key id hex>+<base64 key>``."""
        return f"{self.name}+{self.key_id.hex()}+{_b64encode(_ALG_ED25519 + self.public_key_raw)}"

    def sign(self, checkpoint: Checkpoint) -> str:
        """Return the complete signed note for ``checkpoint``: body, blank line, signature."""
        body = checkpoint.body()
        return body.decode("utf-8") + "\n" + self.signature_line(body)

    def signature_line(self, text: bytes) -> str:
        """Return this key's signature line for a signed note whose text is ``text``.

        The note is ``text``, a blank line, then the line. ``text`` must be UTF-8 ending in a
        newline, with no control character but newline (``CheckpointError`` otherwise). Any text
        may be signed, not only checkpoint bodies: one that does not parse as a checkpoint (a
        second line that is not a decimal tree size) can never be mistaken for one.
        """
        try:
            decoded = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CheckpointError("note text is not valid UTF-8") from exc
        if not decoded.endswith("\n") or _FORBIDDEN_CONTROL.search(decoded):
            raise CheckpointError("note text must end with a newline and hold no control character")
        signature = self._private_key.sign(text)
        return f"{_SIG_PREFIX}{self.name} {_b64encode(self.key_id + signature)}\n"

    def __repr__(self) -> str:
        """Show the public identity only."""
        return f"NoteSigner({self.verifier_key!r})"


class NoteVerifier:
    """Verifies signed notes against one trusted Ed25519 key, identified by name and key id."""

    def __init__(self, name: str, key_id: bytes, public_key: Ed25519PublicKey) -> None:
        """Trust ``public_key`` for signature lines naming ``name`` with ``key_id``."""
        if not _is_valid_key_name(name):
            raise CheckpointError(f"invalid note key name: {name!r}")
        if not isinstance(key_id, bytes) or len(key_id) != 4:
            raise CheckpointError("note key id must be 4 bytes")
        if not isinstance(public_key, Ed25519PublicKey):
            raise CheckpointError("note verifier key must be an Ed25519 public key")
        self.name = name
        self.key_id = key_id
        self._public_key = public_key

    @classmethod
    def from_verifier_key(cls, vkey: str) -> NoteVerifier:
        """Parse a ``<name>+<key id hex>+<base64(0x01 || public key)>`` verifier key.

        Raises ``CheckpointError`` if the string is malformed, names another algorithm, or
        its key id does not match the name and key.
        """
        # The base64 part may itself contain "+", so split at most twice.
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise CheckpointError("verifier key must be <name>+<key id>+<key>")
        name, id_hex, key_b64 = parts
        if not _is_valid_key_name(name):
            raise CheckpointError(f"invalid key name in verifier key: {name[:64]!r}")
        if not _KEY_ID_HEX.fullmatch(id_hex):
            raise CheckpointError("verifier key id must be 8 lowercase hex digits")
        key = _b64decode_strict(key_b64)
        if key[:1] != _ALG_ED25519:
            raise CheckpointError("verifier key is not an Ed25519 (type 0x01) key")
        raw = key[1:]
        if len(raw) != 32:
            raise CheckpointError("verifier key must hold a 32-byte Ed25519 public key")
        key_id = bytes.fromhex(id_hex)
        if _key_id(name, raw) != key_id:
            raise CheckpointError("verifier key id does not match its name and key")
        try:
            public_key = Ed25519PublicKey.from_public_bytes(raw)
        except ValueError as exc:
            raise CheckpointError("verifier key is not a valid Ed25519 public key") from exc
        return cls(name, key_id, public_key)

    @property
    def verifier_key(self) -> str:
        """The verifier key string, in ``<name>+<key id hex>+<base64 key>`` form."""
        key = _ALG_ED25519 + _raw_public(self._public_key)
        return f"{self.name}+{self.key_id.hex()}+{_b64encode(key)}"

    def verify(self, note: str | bytes) -> Checkpoint:
        """Authenticate ``note`` with this key and return the checkpoint it carries.

        Signature lines from other keys (another name or key id) are ignored, as the spec
        requires, so co-signed notes verify.

        Raises ``CheckpointError`` if the note is malformed, has no signature by this key,
        any signature by this key is invalid, or the signed text is not a checkpoint.
        """
        return parse_checkpoint_body(self._verified_text(note))

    def verify_text(self, note: str | bytes) -> bytes:
        """Authenticate a signed note of any text with this key and return the signed text.

        Raises ``CheckpointError`` as :meth:`verify` does, except that the text need not be a
        checkpoint.
        """
        return self._verified_text(note)

    def _verified_text(self, note: str | bytes) -> bytes:
        """Check the note's syntax and this key's signature; return the signed text."""
        if isinstance(note, bytes):
            try:
                text = note.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise CheckpointError("signed note is not valid UTF-8") from exc
        else:
            text = note
            try:
                note.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise CheckpointError("signed note is not valid Unicode text") from exc
        if _FORBIDDEN_CONTROL.search(text):
            raise CheckpointError("signed note contains a control character")
        # The text ends at the last blank line: it may contain blank lines, signatures can't.
        split = text.rfind("\n\n")
        if split < 0:
            raise CheckpointError("signed note has no signature block")
        body, sig_block = text[: split + 1], text[split + 2 :]
        if not sig_block or not sig_block.endswith("\n"):
            raise CheckpointError("signed note must end with a signature line and newline")
        lines = sig_block[:-1].split("\n")
        if len(lines) > _MAX_SIGNATURES:
            raise CheckpointError(f"signed note has more than {_MAX_SIGNATURES} signatures")

        body_bytes = body.encode("utf-8")
        found = False
        for line in lines:
            name, key_id, signature = _parse_signature_line(line)
            if name != self.name or key_id != self.key_id:
                continue
            found = True
            # Every line claiming to be ours must verify: a bad one means tampering.
            if len(signature) != _ED25519_SIG_SIZE:
                raise CheckpointError(f"signature by {self.name} has the wrong length")
            try:
                self._public_key.verify(signature, body_bytes)
            except InvalidSignature as exc:
                raise CheckpointError(
                    f"invalid signature for key {self.name}+{self.key_id.hex()}"
                ) from exc
        if not found:
            raise CheckpointError(f"note has no signature by key {self.name}+{self.key_id.hex()}")
        return body_bytes

    def __repr__(self) -> str:
        """Show the verifier key."""
        return f"NoteVerifier({self.verifier_key!r})"


def _parse_signature_line(line: str) -> tuple[str, bytes, bytes]:
    """Split ``— <name> <base64>`` into name, key id and signature bytes."""
    if not line.startswith(_SIG_PREFIX):
        raise CheckpointError("malformed signature line in note")
    name, sep, sig_b64 = line[len(_SIG_PREFIX) :].partition(" ")
    if not sep or not _is_valid_key_name(name) or not sig_b64:
        raise CheckpointError("malformed signature line in note")
    raw = _b64decode_strict(sig_b64)
    if len(raw) < 5:
        raise CheckpointError("signature in note is too short")
    return name, raw[:4], raw[4:]


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """Load the Ed25519 checkpoint signing key at ``path``, creating it on first use.

    The key is an unencrypted PKCS#8 PEM file. A new one is written with mode 0600 and
    published atomically, so concurrent first starts agree on a single key.

    Raises ``ConfigError`` if the file grants any group/other permission, is unreadable,
    is not a regular file, or does not hold an Ed25519 private key.
    """
    try:
        return _load_signing_key(path)
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the directory for the signing key {path}: {exc.strerror}"
        ) from exc
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    if _publish_exclusively(path, pem):
        return key
    # Another process created the key between our first look and now: use theirs.
    try:
        return _load_signing_key(path)
    except FileNotFoundError as exc:
        raise ConfigError(f"signing key {path} vanished while being created") from exc


def _publish_exclusively(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` unless it exists; return False if someone else won.

    The bytes go to a private temporary file first (created 0600 with O_EXCL, never readable
    by others), then a hard link publishes it: link(2) fails rather than overwrites, and
    readers never observe a partially written key.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(tmp, flags, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot create the signing key {path}: {exc.strerror}") from exc
    try:
        try:
            # umask can only remove bits; set the exact mode so the result is predictable.
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError as exc:
            raise ConfigError(
                f"cannot create the signing key {path}: {exc.strerror}",
                hint="the key directory must be on a filesystem that supports hard links",
            ) from exc
    except OSError as exc:
        raise ConfigError(f"cannot write the signing key {path}: {exc.strerror}") from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    _fsync_directory(path.parent)
    return True


def _fsync_directory(directory: Path) -> None:
    # Makes the new directory entry durable; best effort where directories can't be opened.
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _load_signing_key(path: Path) -> Ed25519PrivateKey:
    """Read and check an existing key file; FileNotFoundError passes through."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(
            f"cannot read the signing key {path}: {exc.strerror}",
            hint="the service user needs read access to the key file",
        ) from exc
    try:
        # fstat on the open descriptor, so the checks apply to the file actually read.
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"signing key {path} is not a regular file")
        if st.st_mode & 0o077:
            raise ConfigError(
                f"signing key {path} is accessible by group or others "
                f"(mode {stat.S_IMODE(st.st_mode):04o})",
                hint=f"run: chmod 600 {path}",
            )
        chunks: list[bytes] = []
        remaining = _MAX_KEY_FILE_BYTES + 1
        while remaining > 0:
            chunk = os.read(fd, remaining)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as exc:
        raise ConfigError(f"cannot read the signing key {path}: {exc.strerror}") from exc
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise ConfigError(f"signing key {path} is too large to be a key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(
            f"signing key {path} is not an unencrypted PEM private key",
            hint="remove it to have a new Ed25519 key generated, or restore the right file",
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(
            f"signing key {path} is a {type(key).__name__}, not an Ed25519 key",
            hint="checkpoints are signed with Ed25519; provide an Ed25519 PKCS#8 PEM key",
        )
    return key
