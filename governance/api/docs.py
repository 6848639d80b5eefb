"""The interactive API documentation at ``/docs``: Swagger UI, served from installed files.

The Swagger UI distribution comes from the ``swagger-ui-bundle-v2`` package and the page's start
script from this package, all under ``/docs/assets/``: the page loads nothing from another
origin, so it works without Internet access, and its Content-Security-Policy
(:class:`~governance.api.middleware.SecurityHeaders`) allows scripts from this origin only.
"""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse
from swagger_ui_bundle import swagger_ui_path

from governance.api import routing
from governance.errors import NotFound

DOCS_PATH = "/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"

#: The files the page loads, by name under ``/docs/assets/``; nothing else is served there.
ASSETS: dict[str, Path] = {
    "swagger-ui-bundle.js": Path(str(swagger_ui_path / "swagger-ui-bundle.js")),
    "swagger-ui.css": Path(str(swagger_ui_path / "swagger-ui.css")),
    "favicon-32x32.png": Path(str(swagger_ui_path / "favicon-32x32.png")),
    "swagger-init.js": Path(__file__).parent / "static" / "swagger-init.js",
}

_PAGE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-init.js"></script>
</body>
</html>
"""

router = routing.router(include_in_schema=False)


@router.get(DOCS_PATH, response_class=HTMLResponse)
async def page(request: Request) -> HTMLResponse:
    """The Swagger UI page for the app's OpenAPI document."""
    # Behind a proxy that mounts the service under a prefix, every URL the page names needs it.
    root = request.scope.get("root_path", "")
    return HTMLResponse(
        _PAGE.format(
            title=html.escape(f"{request.app.title} — API"),
            assets=html.escape(root + ASSETS_PATH),
            openapi=html.escape(root + request.app.openapi_url),
        )
    )


@router.get(ASSETS_PATH + "/{name}")
async def asset(name: str) -> FileResponse:
    """One of :data:`ASSETS`; 404 for any other name."""
    path = ASSETS.get(name)
    if path is None:
        raise NotFound(f"no documentation asset {name!r}")
    return FileResponse(path)
