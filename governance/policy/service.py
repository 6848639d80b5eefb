"""The policy service: the bundle in force, the engine that evaluates it, and decisions.

Built by the composition root (:mod:`governance.runtime`) from the settings: the shipped bundle
with the operator's overlay, on the engine ``GOVERNANCE_POLICY_ENGINE`` names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from governance.policy.bundle import PolicyBundle
from governance.policy.engine import Decision, EngineInfo, PolicyEngine, decide
from governance.policy.input import PolicyInput


class PolicyService:
    """Decides input documents with one engine and one bundle."""

    def __init__(self, engine: PolicyEngine, bundle: PolicyBundle, timeout: float) -> None:
        self._engine = engine
        self._bundle = bundle
        self._timeout = timeout
        engine.load(bundle)

    @property
    def bundle(self) -> PolicyBundle:
        """The bundle in force."""
        return self._bundle

    @property
    def engine(self) -> EngineInfo:
        """The engine's name and version."""
        return self._engine.info

    def decide(self, document: PolicyInput | Mapping[str, Any]) -> Decision:
        """The decision for ``document`` (``error``, never an allow, if the engine fails)."""
        return decide(self._engine, self._bundle, document, self._timeout)

    def close(self) -> None:
        """Stop the engine."""
        self._engine.close()
