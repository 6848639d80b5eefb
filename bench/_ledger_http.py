"""The ledger bench's step 2 (see :mod:`bench.ledger`): evidence over HTTP against ``/healthz``.

The load comes from wrk when installed, else from the asyncio client of
:mod:`bench._loadclient` running :func:`socket_client` (or :func:`httpx_client`, kept for
comparison). Afterwards the ledger this built is audited: it has a signed checkpoint every few
entries.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

from bench._common import Env, Report, Row, fmt_ms, fmt_rate, median, say, verdict
from bench._http import (
    LEDGER_METRICS,
    HttpRun,
    Load,
    choose_client,
    http_get,
    ledger_metrics,
    ledger_summary,
    running_server,
    wrk_script,
)
from bench._ledger_big import scan_entries
from bench._loadclient import LoadResult, LoadSpec, LoadWindow, measure_load, raw_socket_workers
from governance.db import create_db_engine
from governance.ledger.audit import audit_database
from governance.ledger.checkpoint import NoteVerifier

HTTP_CONCURRENCY = 8

WRK_SCRIPT = wrk_script(
    r"""
function init(args)
  mode = args[1]
  nonce = args[2]
  counter = 0
  pad = string.rep("p", 200)
  if mode == "post" then
    wrk.method = "POST"
    wrk.path = "/api/v1/evidence"
    wrk.headers["Authorization"] = "Bearer " .. args[3]
    wrk.headers["Content-Type"] = "application/json"
  else
    wrk.method = "GET"
    wrk.path = "/healthz"
    fixed = wrk.format()
  end
end

function request()
  if fixed then
    return fixed
  end
  counter = counter + 1
  local body = string.format('{"bench":"%s","t":%d,"n":%d,"pad":"%s"}', nonce, tid, counter, pad)
  return wrk.format(nil, nil, nil, body)
end
"""
)


def bench_http(env: Env, args: argparse.Namespace, report: Report) -> None:
    client = choose_client(args.client)
    seconds, warmup = args.http_seconds, 1.0
    say(
        f"\n== HTTP ingest [sqlite]: {HTTP_CONCURRENCY} concurrent connections ({client} client), "
        f"{seconds:g} s per run after a {warmup:g} s warm-up"
    )
    url = env.new_db("sqlite", "http")
    with running_server(
        None, url, env.tmp / "http-checkpoint.key", env.tmp / "serve.log"
    ) as server:
        script = env.tmp / "bench.lua"
        script.write_text(WRK_SCRIPT)
        load = Load(server, seconds, warmup, HTTP_CONCURRENCY)
        target = f"{__name__}:{'httpx_client' if client == 'httpx' else 'socket_client'}"

        def run(mode: str) -> HttpRun:
            before = ledger_metrics(server)
            result = load.wrk(script, mode) if client == "wrk" else load.python(target, mode)
            after = ledger_metrics(server)
            result.ledger = {name: after[name] - before[name] for name in LEDGER_METRICS}
            return result

        # The server appends entries of its own (its trust configuration) as it starts.
        tree_before = _tree_size(server.port)
        health: list[HttpRun] = []
        posts: list[HttpRun] = []
        for rep in range(args.repeats):
            health.append(run("get"))
            posts.append(run("post"))
            h, p = health[-1], posts[-1]
            say(f"  run {rep + 1}: POST {p.text()}; GET /healthz {h.text()}")
            say(f"         ledger during the POST run: {ledger_summary(p.ledger)}")
        status, body = http_get(server.port, "/readyz")
        ready = json.loads(body) if status == 200 else {}
        grown = int(ready.get("tree_size", -1)) - tree_before
        counted = sum(p.ok_total for p in posts)
        slack = HTTP_CONCURRENCY * 2 * len(posts)  # wrk may stop before in-flight answers
        consistent = counted <= grown <= counted + (slack if client == "wrk" else 0)
        say(
            f"  the ledger grew by {grown:,} entries for {counted:,} 2xx answers counted by the "
            "client" + ("" if consistent else "  <-- MISMATCH")
        )
    try:
        if "audit" in args.steps and "key" in ready:
            _audit_small_batches(url, NoteVerifier.from_verifier_key(ready["key"]), report)
    finally:
        env.drop_db(url)
    rate = median([p.rate for p in posts])
    base = median([h.rate for h in health])
    report.add(
        Row(
            "2 http",
            "sqlite",
            f"POST /api/v1/evidence, {HTTP_CONCURRENCY} conns",
            fmt_rate(rate, " entries/s"),
            f"GET /healthz {fmt_rate(base, ' req/s')}",
            f"{rate / base:.2f}",
            ">= 1,000/s",
            verdict(rate >= 1000),
        )
    )
    p50, p99 = median([p.p50 for p in posts]), median([p.p99 for p in posts])
    h50, h99 = median([h.p50 for h in health]), median([h.p99 for h in health])
    report.add(
        Row(
            "2 http",
            "sqlite",
            "POST latency p50 / p99",
            f"{fmt_ms(p50)} / {fmt_ms(p99)}",
            f"GET /healthz {fmt_ms(h50)} / {fmt_ms(h99)}",
            f"{p50 / h50:.1f} / {p99 / h99:.1f}",
        )
    )
    report.notes.append(
        f"HTTP: {client} client, {HTTP_CONCURRENCY} keep-alive connections, medians of "
        f"{len(posts)} runs of {seconds:g} s. CPU cores used while POSTing: server "
        f"{median([p.server_cpu for p in posts]):.2f}, client "
        f"{median([p.client_cpu for p in posts]):.2f} (of {os.cpu_count()})."
    )


def _tree_size(port: int) -> int:
    status, body = http_get(port, "/readyz")
    return int(json.loads(body)["tree_size"]) if status == 200 else -1


def _audit_small_batches(url: str, verifier: NoteVerifier, report: Report) -> None:
    """Audit the ledger the HTTP step built: small batches, so one signed checkpoint per few
    entries (the 1M-entry ledger of step 4 has one per 1,000)."""
    engine = create_db_engine(url)
    try:
        result = audit_database(engine, verifier)
        if not result.ok:
            raise RuntimeError(f"audit of the HTTP-built ledger failed: {result.to_json()}")
        rows, seconds = scan_entries(engine)
    finally:
        engine.dispose()
    rate, base = result.entries / result.seconds, rows / seconds
    say(
        f"  audit of this ledger: {result.entries:,} entries, {result.checkpoints:,} checkpoints "
        f"({result.entries / max(result.checkpoints, 1):.1f} entries each) in "
        f"{result.seconds:.2f} s = {fmt_rate(rate, ' entries/s')}; chunked scan "
        f"{fmt_rate(base, ' rows/s')}"
    )
    report.add(
        Row(
            "4 audit",
            "sqlite",
            f"audit_database, HTTP-built @{result.entries:,}",
            fmt_rate(rate, " entries/s"),
            f"chunked SELECT {fmt_rate(base, ' rows/s')}",
            f"{rate / base:.2f}",
            ">= 100,000/s",
            verdict(rate >= 100_000),
        )
    )
    report.notes.append(
        f"The HTTP-built ledger has a signed checkpoint per "
        f"{result.entries / max(result.checkpoints, 1):.1f} entries (one per committed batch), "
        "each verified by the audit; the filled ledger of steps 3-5 has one per 1,000."
    )


# the client process ------------------------------------------------------------------------


# the client process ------------------------------------------------------------------------


def _body(spec: LoadSpec, worker: int, seq: int) -> bytes:
    pad = "p" * 200
    return f'{{"bench":"{spec["nonce"]}","w":{worker},"n":{seq},"pad":"{pad}"}}'.encode()


async def socket_client(spec: LoadSpec) -> LoadResult:
    """The lean client: HTTP/1.1 written and read on the sockets (``--client python``)."""
    host = f"127.0.0.1:{spec['port']}"
    post = spec["mode"] == "post"

    def raw_request(worker: int, seq: int) -> bytes:
        if not post:
            return f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        data = _body(spec, worker, seq)
        return (
            f"POST /api/v1/evidence HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {spec['key']}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode() + data

    return await measure_load(spec, lambda window: raw_socket_workers(spec, window, raw_request))


async def httpx_client(spec: LoadSpec) -> LoadResult:
    """``httpx.AsyncClient`` (``--client httpx``), for comparison: it saturates a core early."""
    import httpx

    concurrency = spec["concurrency"]
    post = spec["mode"] == "post"
    headers = {"Authorization": f"Bearer {spec['key']}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def workers(window: LoadWindow) -> None:
        async def worker(number: int, client: httpx.AsyncClient) -> None:
            seq = 0
            while (started := time.perf_counter()) < window.stop_at:
                seq += 1
                if post:
                    resp = await client.post(
                        "/api/v1/evidence", content=_body(spec, number, seq), headers=headers
                    )
                else:
                    resp = await client.get("/healthz")
                window.record(started, time.perf_counter(), resp.status_code)

        base_url = f"http://127.0.0.1:{spec['port']}"
        async with httpx.AsyncClient(base_url=base_url, limits=limits) as client:
            await asyncio.gather(*(worker(w + 1, client) for w in range(concurrency)))

    return await measure_load(spec, workers)
