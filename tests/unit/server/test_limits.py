"""What one client can make the proxy hold: body size and arrival time, cached Guards and plans,
requests in flight per key; errors without internals; constant-time key comparison."""

import asyncio
import json

from fastapi.testclient import TestClient

from parlantish.backends import ScriptedBackend
from parlantish.blueprint import load_blueprint
from parlantish.compiler import compile as compile_module
from parlantish.compiler import compile_plan, example_output
from parlantish.server import ProxyConfig, create_app, load_blueprints

from .test_proxy_app import BLUEPRINTS, GOOD, USER, arq, body, client_for


def make_app(folder, backend, **limits):
    config = ProxyConfig(upstream="scripted", blueprints=load_blueprints(folder), **limits)
    return create_app(config, backend)


def asgi_post(app, chunks, headers=(), complete=True):
    """POST /v1/chat/completions with the body sent as ``chunks`` (then nothing more, if not
    ``complete``); returns (status, error body, number of chunks the app read)."""
    read = 0
    sent: list[dict] = []

    async def receive():
        nonlocal read
        if read < len(chunks):
            read += 1
            more = read < len(chunks) or not complete
            return {"type": "http.request", "body": chunks[read - 1], "more_body": more}
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    data = json.loads(
        b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    )
    return sent[0]["status"], data, read


def test_a_body_over_the_limit_is_413_without_being_read_whole(folder):
    backend = ScriptedBackend([arq(GOOD)])
    config = ProxyConfig(
        upstream="scripted", blueprints=load_blueprints(folder), max_body_bytes=1000
    )
    app = create_app(config, backend)
    status, data, read = asgi_post(app, [b" " * 600] * 100)  # 60 kB, no Content-Length
    assert status == 413 and data["error"]["code"] == "request_too_large"
    assert read == 2  # refused as soon as the limit was passed
    declared = [(b"content-length", b"60000")]
    status, data, read = asgi_post(app, [b" " * 600] * 100, declared)
    assert status == 413 and read == 0
    assert backend.requests == []
    client = TestClient(app)
    assert client.post("/v1/chat/completions", json=body()).status_code == 200  # small: served


def test_the_default_limit_is_one_mib(folder):
    client, backend = client_for(folder, [arq(GOOD)])
    padding = "x" * (1 << 20)
    response = client.post("/v1/chat/completions", json=body(user=padding))
    assert response.status_code == 413 and response.json()["error"]["type"]
    assert backend.requests == []


def test_a_body_that_does_not_arrive_in_time_is_408(folder):
    config = ProxyConfig(
        upstream="scripted", blueprints=load_blueprints(folder), body_timeout_s=0.2
    )
    app = create_app(config, ScriptedBackend([]))
    status, data, read = asgi_post(app, [b'{"model": '], complete=False)
    assert status == 408 and data["error"]["code"] == "timeout" and read == 1


def test_guards_are_kept_for_at_most_the_cache_size(folder):
    backend = ScriptedBackend([arq(GOOD)], cycle=True)
    config = ProxyConfig(
        upstream="scripted", blueprints=load_blueprints(folder), guard_cache_size=8
    )
    app = create_app(config, backend)
    client = TestClient(app)
    for tokens in range(400, 430):  # max_tokens is the client's: one Guard each
        assert client.post("/v1/chat/completions", json=body(max_tokens=tokens)).status_code == 200
    assert len(app.state.proxy.guarded.guards) == 8


def reply_for(name):
    blueprint = load_blueprint(BLUEPRINTS / "support-refunds.yaml")
    plan = compile_plan(blueprint, {"customer_name": name}, USER)
    return example_output(plan, GOOD.replace("Dana", name))


def test_plans_compiled_for_distinct_variable_values_stay_bounded(folder, monkeypatch):
    names = [f"Dana{i}" for i in range(40)]
    script = [reply_for(name) for name in names]
    monkeypatch.setattr(compile_module, "CACHE_SIZE", 16)
    compile_module.clear_cache()
    client, _ = client_for(folder, ScriptedBackend(script))
    for name in names:
        payload = body(parlantish={"variables": {"customer_name": name}})
        assert client.post("/v1/chat/completions", json=payload).status_code == 200
    assert len(compile_module._cache) == 16
