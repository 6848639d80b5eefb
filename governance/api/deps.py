"""Request dependencies: the runtime, and the authenticated caller with a role check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from governance.auth.keys import Principal, Role
from governance.errors import Unauthenticated
from governance.ledger.entries import Submitter
from governance.runtime import Runtime


def runtime(request: Request) -> Runtime:
    """The runtime the app was built with."""
    rt: Runtime = request.app.state.runtime
    return rt


def principal(request: Request) -> Principal:
    """The caller, authenticated by :class:`~governance.api.middleware.Authenticate`."""
    found = getattr(request.state, "principal", None)
    if not isinstance(found, Principal):
        raise Unauthenticated("missing API key")
    return found


def submitter(caller: Principal) -> Submitter:
    """The caller as the submitter of ledger entries: its principal (the key's name) and key."""
    return Submitter(caller.name, caller.key_id)


def require(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that checks the authenticated caller holds one of ``roles``."""

    async def dependency(request: Request) -> Principal:
        caller = principal(request)
        caller.require(*roles)
        return caller

    return dependency
