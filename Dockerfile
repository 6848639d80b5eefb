# syntax=docker/dockerfile:1
# governance-audit service image.
#   docker build -t governance-audit .
#   docker run -p 8000:8000 -v governance-data:/data governance-audit

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------
# builder: resolve nothing, install exactly uv.lock (no dev group) into /app/.venv
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

RUN pip install --no-cache-dir --disable-pip-version-check uv==0.13.9

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Third-party dependencies first so this layer is cached across source-only changes.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

# The project itself, installed as a regular (non-editable) wheel; the wheel
# force-includes migrations/ and the policy bundle as governance/_migrations and _policies.
COPY governance ./governance
COPY adapters ./adapters
COPY reports ./reports
COPY policies ./policies
COPY migrations ./migrations
RUN uv sync --frozen --no-dev --no-editable

# ---------------------------------------------------------------------------
# runtime: just the interpreter and the venv, running as an unprivileged user
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

RUN groupadd --system --gid 10001 governance \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin governance \
    && mkdir -p /data/keys \
    && chown -R 10001:10001 /data \
    && chmod 0700 /data/keys

COPY --from=builder /app/.venv /app/.venv

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GOVERNANCE_DATABASE_URL=sqlite:////data/governance.db \
    GOVERNANCE_SIGNING_KEY_FILE=/data/keys/checkpoint.key \
    GOVERNANCE_HOST=0.0.0.0

WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

USER 10001:10001
ENTRYPOINT ["governance"]
CMD ["serve"]
