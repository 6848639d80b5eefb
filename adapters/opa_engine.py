"""The OPA server policy engine: decisions asked of a running OPA, through ``opa-python-client``.

At start the service puts the bundle's modules (as policies ``governance-audit/<path>``) and its
data (at ``data.governance``) into OPA, removing any policy of ours the bundle no longer has.
Before every decision it reads OPA's copy back — our policies' text and the data documents — and
compares its digest with the bundle's: a server whose policies or data were changed, lost in a
restart, or joined by another client's policy in a ``governance`` package answers nothing; the
decision is an error (fail closed). Policies of other packages may share the server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from opa_client import OpaClient

from governance.policy.bundle import PolicyBundle
from governance.policy.engine import DECISION_QUERY, EngineInfo, PolicyEngineError

#: Policy ids of this service in OPA start with this (the rest is the module's bundle path).
POLICY_PREFIX = "governance-audit/"
_GOVERNANCE_PACKAGE = re.compile(r"^\s*package\s+governance(?:\.|\s|$)", re.MULTILINE)
_DECISION_PACKAGE, _, _DECISION_RULE = DECISION_QUERY.removeprefix("data.").rpartition(".")


class OpaServerEngine:
    """Evaluates decisions on the OPA server at ``url`` (bearer ``token`` when it needs one)."""

    name = "opa"

    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PolicyEngineError(f"GOVERNANCE_OPA_URL is not an http(s) URL: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        self._base = f"{parts.scheme}://{parts.hostname}:{port}"
        self._client = OpaClient(
            host=parts.hostname,
            port=port,
            ssl=parts.scheme == "https",
            token=token,
            timeout=timeout,
            retries=0,
        )
        # One listing of every policy with its text (the client's listing keeps only the ids).
        self._session = requests.Session()
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"
        self._timeout = timeout
        self._bundle: PolicyBundle | None = None
        self._version = "unknown"

    @property
    def info(self) -> EngineInfo:
        """``opa`` and the server's version (as ``opa.runtime()`` reports it)."""
        return EngineInfo(self.name, self._version)

    def load(self, bundle: PolicyBundle) -> None:
        """Put the bundle into OPA and check OPA holds exactly it."""
        try:
            for path, text in sorted(bundle.modules.items()):
                self._client.update_policy_from_string(text, POLICY_PREFIX + path)
            for stale in set(self._ours()) - set(bundle.modules):
                self._client.delete_policy(POLICY_PREFIX + stale)
            self._client.update_or_create_data(dict(bundle.governance), "governance")
            runtime = self._client.ad_hoc_query("r := opa.runtime()")
        except PolicyEngineError:
            raise
        except Exception as exc:  # noqa: BLE001 - the client raises many kinds; all mean "no"
            raise PolicyEngineError(
                f"the OPA server refused the bundle: {_describe(exc)}"
            ) from None
        rows = runtime.get("result") or [{}]
        version = rows[0].get("r", {}).get("version") if isinstance(rows[0], dict) else None
        self._version = str(version) if version else "unknown (the server does not say)"
        self._bundle = bundle
        self._verify()

    def _policies(self) -> dict[str, str]:
        """Every policy on the server: its id and its text."""
        response = self._session.get(f"{self._base}/v1/policies", timeout=self._timeout)
        response.raise_for_status()
        policies = response.json().get("result", [])
        return {str(p.get("id")): str(p.get("raw", "")) for p in policies if isinstance(p, dict)}

    def _ours(self) -> dict[str, str]:
        return {
            pid.removeprefix(POLICY_PREFIX): raw
            for pid, raw in self._policies().items()
            if pid.startswith(POLICY_PREFIX)
        }

    def _verify(self) -> None:
        if self._bundle is None:
            raise PolicyEngineError("no policy bundle is loaded")
        try:
            policies = self._policies()
            # Base documents only: reading data.governance itself would also evaluate the
            # rules of every governance package.
            governance = {
                name: self._client.get_data(f"governance/{name}").get("result")
                for name in self._bundle.governance
            }
        except Exception as exc:  # noqa: BLE001 - unreachable, refused, or not JSON: no decision
            raise PolicyEngineError(
                f"cannot read the OPA server's bundle: {_describe(exc)}"
            ) from None
        modules = {
            pid.removeprefix(POLICY_PREFIX): raw
            for pid, raw in policies.items()
            if pid.startswith(POLICY_PREFIX)
        }
        # Another client's policy in one of our packages would change our decisions as surely
        # as an edit of ours: it counts as a difference.
        foreign = sorted(
            pid
            for pid, raw in policies.items()
            if not pid.startswith(POLICY_PREFIX) and _GOVERNANCE_PACKAGE.search(raw)
        )
        if foreign:
            raise PolicyEngineError(
                f"the OPA server holds other policies in the governance packages: {foreign}"
            )
        held = PolicyBundle(modules, {"governance": governance}, self._bundle.revision)
        if held.digest != self._bundle.digest:
            raise PolicyEngineError(
                f"the OPA server's policies or data differ from the bundle (digest {held.digest}, "
                f"expected {self._bundle.digest})"
            )

    def evaluate(self, document: Mapping[str, Any], timeout: float) -> Any:
        """The decision document, after checking the server still holds the bundle.

        The client's own timeout (given at construction) bounds each request.
        """
        self._verify()
        try:
            answer = self._client.query_rule(dict(document), _DECISION_PACKAGE, _DECISION_RULE)
        except Exception as exc:  # noqa: BLE001
            raise PolicyEngineError(f"the OPA server did not decide: {_describe(exc)}") from None
        return answer.get("result") if isinstance(answer, dict) else None

    def close(self) -> None:
        """Close the connections."""
        self._session.close()
        self._client.close_connection()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
