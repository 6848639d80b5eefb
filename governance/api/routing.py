"""Routes whose JSON bodies are read by the service's strict reader (:mod:`governance.jsondoc`).

FastAPI decodes a JSON body with the standard library before validating it, which takes the
last of two equal keys, ``NaN``, and text no database can store. Every router is built with
:class:`StrictRoute`, whose requests decode their body with :func:`governance.jsondoc.load`
instead, so all JSON endpoints refuse the same documents with the same 400 problem.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from governance import jsondoc
from governance.errors import InputError


class BodyRejected(HTTPException):
    """A request body :func:`governance.jsondoc.load` refused, carrying its error."""

    def __init__(self, error: InputError) -> None:
        super().__init__(status_code=400, detail=error.message)
        self.error = error


class StrictJSONRequest(Request):
    """A request whose ``json()`` is the service's strict reader."""

    async def json(self) -> Any:
        """The body, decoded strictly; :class:`BodyRejected` when it is refused."""
        if not hasattr(self, "_json"):
            try:
                self._json = jsondoc.load(await self.body())
            except InputError as exc:
                raise BodyRejected(exc) from None
        return self._json


class StrictRoute(APIRoute):
    """A route that hands its endpoint a :class:`StrictJSONRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The default handler, given the strict request."""
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict


def router(**options: Any) -> APIRouter:
    """An ``APIRouter`` of :class:`StrictRoute` routes (every router of the service)."""
    return APIRouter(route_class=StrictRoute, **options)
