"""``/docs`` works air-gapped: Swagger UI from installed files, nothing inline, no other origin."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from governance.api.app import create_app
from governance.api.docs import ASSETS
from governance.config import Settings

CSP = "content-security-policy"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    tmp: Path = tmp_path_factory.mktemp("docs")
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'unused.db'}",
        signing_key_file=tmp / "unused.key",
        log_json=False,
    )
    # Not entered: without the lifespan no runtime is opened, and the docs need none.
    return TestClient(create_app(settings), raise_server_exceptions=False)


def test_the_page_loads_only_files_of_this_origin(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "http" not in page  # no CDN, no absolute URL of any kind
    assert "//" not in page
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sorted(sources) == sorted(f"/docs/assets/{name}" for name in ASSETS)
    # No inline script: every script element loads a file.
    assert re.findall(r"<script[^>]*>", page) == [
        '<script src="/docs/assets/swagger-ui-bundle.js">',
        '<script src="/docs/assets/swagger-init.js">',
    ]
    assert 'data-openapi-url="/openapi.json"' in page


def test_the_pages_policy_runs_no_inline_or_foreign_script(client: TestClient) -> None:
    policy = client.get("/docs").headers[CSP]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert "unsafe" not in policy


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("swagger-ui-bundle.js", "javascript"),
        ("swagger-init.js", "javascript"),
        ("swagger-ui.css", "text/css"),
        ("favicon-32x32.png", "image/png"),
    ],
)
def test_assets_are_served_from_the_installed_packages(
    client: TestClient, name: str, media_type: str
) -> None:
    response = client.get(f"/docs/assets/{name}")
    assert response.status_code == 200
    assert media_type in response.headers["content-type"]
    assert response.content == ASSETS[name].read_bytes()
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_start_script_sends_nothing_elsewhere(client: TestClient) -> None:
    script = client.get("/docs/assets/swagger-init.js").text
    assert "http" not in script
    assert "validatorUrl: null" in script


@pytest.mark.parametrize(
    "path",
    [
        "/docs/assets/index.html",  # in the distribution, but not served
        "/docs/assets/swagger-ui-bundle.js.map",
        "/docs/assets/..%2F..%2Fpyproject.toml",
        "/redoc",
        "/docs/oauth2-redirect",
    ],
)
def test_nothing_else_is_served(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_path_prefix_reaches_every_url_of_the_page(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'unused.db'}",
        signing_key_file=tmp_path / "unused.key",
        log_json=False,
    )
    client = TestClient(create_app(settings), root_path="/governance")
    page = client.get("/docs").text
    assert 'href="/governance/docs/assets/swagger-ui.css"' in page
    assert 'data-openapi-url="/governance/openapi.json"' in page
