"""Request dependencies: the runtime, and authentication by bearer API key with a role check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from governance.auth.keys import Principal, Role
from governance.errors import Unauthenticated
from governance.runtime import Runtime


def runtime(request: Request) -> Runtime:
    """The runtime the app was built with."""
    rt: Runtime = request.app.state.runtime
    return rt


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization")
    if header is None:
        raise Unauthenticated(
            "missing API key",
            hint="send 'Authorization: Bearer <key>'; see `governance keys create`",
        )
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthenticated("malformed Authorization header; expected 'Bearer <key>'")
    return token


def require(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that authenticates the caller and checks it holds one of ``roles``."""

    async def dependency(request: Request) -> Principal:
        token = _bearer(request)
        keys = runtime(request).keys
        principal = keys.cached(token)
        if principal is None:
            principal = await run_in_threadpool(keys.authenticate, token)
        principal.require(*roles)
        request.state.principal = principal
        return principal

    return dependency
