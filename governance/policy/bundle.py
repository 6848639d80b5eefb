"""The policy bundle: the Rego modules and the data they read, loaded once and named by a digest.

The bundle is the ``policies/`` directory (an OPA bundle: ``.manifest``, ``*.rego``, and
``data.json`` files whose directory is their place in ``data``), shipped inside the package. Its
data is ``data.governance.catalog`` (the controls: id, framework, article, title, default
enforcement, effective date) and ``data.governance.config`` (lists and thresholds the rules read).
An operator overlays their own configuration with ``GOVERNANCE_POLICY_DATA`` (YAML or JSON): a
document merged into ``data.governance`` (objects merged key by key, anything else replaced).

The digest covers every module's path and text and the data in force, overlay included, so two
decisions with the same digest were made by the same rules on the same configuration.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from governance.errors import ConfigError
from governance.ledger.canonical import canonical_json

#: Controls' frameworks, in the order decisions list them.
FRAMEWORKS = ("gdpr", "iso27001", "uae_pdpl")

_FIXTURES = "tests"


def bundle_dir() -> Path:
    """Where the bundle lives: inside the wheel, or beside the package in a checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_policies", here.parent / "policies"):
        if (candidate / ".manifest").is_file():
            return candidate
    raise ConfigError("the policy bundle was not found next to the governance package")


@dataclass(frozen=True)
class Control:
    """One control of the catalog."""

    id: str
    framework: str
    article: str
    title: str
    enforcement: str
    effective: str


@dataclass(frozen=True)
class PolicyBundle:
    """Rego modules by bundle path, and the data document (``data`` in Rego) they read."""

    modules: Mapping[str, str]
    data: Mapping[str, Any]
    revision: str
    #: Where the operator's overlay came from (a file, a fixture), or None without one.
    overlay: str | None = None
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        listing = {
            "modules": {
                path: hashlib.sha256(text.encode()).hexdigest()
                for path, text in self.modules.items()
            },
            "data": hashlib.sha256(canonical_json(self.data)).hexdigest(),
        }
        object.__setattr__(
            self, "digest", "sha256:" + hashlib.sha256(canonical_json(listing)).hexdigest()
        )

    @property
    def governance(self) -> Mapping[str, Any]:
        """``data.governance``: the catalog and the configuration."""
        found: Mapping[str, Any] = self.data["governance"]
        return found

    @property
    def config(self) -> Mapping[str, Any]:
        """The configuration in force (overlay included)."""
        found: Mapping[str, Any] = self.governance["config"]
        return found

    @property
    def catalog_version(self) -> str:
        """The catalog's version."""
        return str(self.governance["catalog"]["version"])

    def controls(self) -> Iterator[Control]:
        """Every control of the catalog, in catalog order, with the enforcement in force."""
        for entry in self.governance["catalog"]["controls"].values():
            yield Control(
                id=entry["id"],
                framework=entry["framework"],
                article=entry["article"],
                title=entry["title"],
                enforcement=entry["enforcement"],
                effective=entry["effective"],
            )

    def overlaid(self, overlay: Mapping[str, Any], source: str) -> PolicyBundle:
        """A copy with ``overlay`` (``{"config": ..., "catalog": ...}``) merged into its data.

        Merged into ``data.governance`` as ``GOVERNANCE_POLICY_DATA`` is; ``source`` names the
        overlay in errors and in :meth:`to_json`.
        """
        data = copy.deepcopy(dict(self.data))
        _merge(data["governance"], check_overlay(overlay, source))
        _resolve_enforcement(data["governance"], source)
        return PolicyBundle(self.modules, data, self.revision, source)

    def to_json(self) -> dict[str, Any]:
        """What ``governance policy show`` prints (modules by name, not text)."""
        return {
            "digest": self.digest,
            "revision": self.revision,
            "catalog_version": self.catalog_version,
            "overlay": self.overlay,
            "modules": sorted(self.modules),
            "controls": [c.__dict__ for c in self.controls()],
            "config": self.config,
        }


def _data_path(root: Path, data_file: Path) -> list[str]:
    return list(data_file.relative_to(root).parent.parts)


def _merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def check_overlay(loaded: Any, source: str) -> Mapping[str, Any]:
    """``loaded`` if it is an overlay: a mapping of ``config`` and/or ``catalog`` mappings."""
    if not isinstance(loaded, Mapping):
        raise ConfigError(f"{source} must hold a mapping (merged into data.governance)")
    unknown = set(loaded) - {"config", "catalog"}
    if unknown:
        raise ConfigError(f"{source} may only set config and catalog, not {sorted(unknown)}")
    for key, value in loaded.items():
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: {key} must be a mapping")
    return loaded


def _read_overlay(path: Path) -> Mapping[str, Any]:
    source = f"GOVERNANCE_POLICY_DATA {path}"
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {source}: {exc.strerror}") from None
    try:
        loaded = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{source} is not valid YAML or JSON: {exc}") from None
    return check_overlay(loaded, source)


def load_bundle(root: Path | None = None, overlay: Path | None = None) -> PolicyBundle:
    """Read the bundle at ``root`` (the shipped one by default), with an operator overlay."""
    root = root or bundle_dir()
    try:
        manifest = json.loads((root / ".manifest").read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"the policy bundle at {root} has no readable .manifest: {exc}") from None
    modules = {
        str(path.relative_to(root)): path.read_text()
        for path in sorted(root.rglob("*.rego"))
        if _FIXTURES not in path.relative_to(root).parts
    }
    data: dict[str, Any] = {}
    for data_file in sorted(root.rglob("data.json")):
        if _FIXTURES in data_file.relative_to(root).parts:
            continue
        node = data
        for part in _data_path(root, data_file):
            node = node.setdefault(part, {})
        _merge(node, json.loads(data_file.read_text()))
    if "governance" not in data or not {"catalog", "config"} <= set(data["governance"]):
        raise ConfigError(f"the policy bundle at {root} lacks data.governance.catalog or .config")
    _resolve_enforcement(data["governance"], f"the policy bundle at {root}")
    bundle = PolicyBundle(modules, data, str(manifest.get("revision", "")))
    if overlay is None:
        return bundle
    return bundle.overlaid(_read_overlay(overlay), f"GOVERNANCE_POLICY_DATA {overlay}")


def _resolve_enforcement(governance: dict[str, Any], source: str) -> None:
    """Write the operator's ``config.enforcement`` overrides into the catalog's entries.

    The rules then read one enforcement per control. An override must name a known control and
    say deny or warn.
    """
    controls = governance["catalog"]["controls"]
    for control, enforcement in (governance["config"].get("enforcement") or {}).items():
        if control not in controls:
            raise ConfigError(
                f"{source}: the enforcement override names an unknown control {control!r}"
            )
        if enforcement not in ("deny", "warn"):
            raise ConfigError(
                f"{source}: the enforcement of {control} must be deny or warn, not {enforcement!r}"
            )
        controls[control]["enforcement"] = enforcement


@cache
def shipped_bundle() -> PolicyBundle:
    """The bundle shipped with the service, without an overlay (read once)."""
    return load_bundle()
