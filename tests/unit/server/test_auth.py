"""The key gate: constant-time key comparison and a limit on requests in flight per key."""

import asyncio
import hmac

import httpx

from parlantish.backends import ScriptedBackend
from parlantish.server import ProxyConfig, auth, create_app, load_blueprints

from .test_proxy_app import GOOD, arq, body, client_for


def test_the_key_is_compared_in_constant_time(folder, monkeypatch):
    compared = []
    real = hmac.compare_digest

    def compare_digest(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", compare_digest)
    client, _ = client_for(folder, [arq(GOOD)], api_key="sekret")
    headers = {"Authorization": "Bearer nope"}
    assert client.post("/v1/chat/completions", json=body(), headers=headers).status_code == 401
    assert compared == [(b"Bearer nope", b"Bearer sekret")]


def test_requests_in_flight_per_key_are_limited_with_429(folder):
    backend = ScriptedBackend([arq(GOOD)], cycle=True, delay_s=0.3)
    config = ProxyConfig(
        upstream="scripted",
        blueprints=load_blueprints(folder),
        api_key="sekret",
        max_requests_per_key=2,
    )
    app = create_app(config, backend)
    headers = {"Authorization": "Bearer sekret"}

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as client:
            calls = [
                client.post("/v1/chat/completions", json=body(), headers=headers) for _ in range(5)
            ]
            answers = await asyncio.gather(*calls)
            answers.append(await client.post("/v1/chat/completions", json=body(), headers=headers))
            return answers

    answers = asyncio.run(run())
    statuses = sorted(r.status_code for r in answers[:5])
    assert statuses == [200, 200, 429, 429, 429]
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.json()["error"]["code"] == "too_many_requests"
    assert refused.headers["retry-after"] == "1"
    assert answers[5].status_code == 200  # the slots are given back
    assert app.state.proxy.metrics.render().count(b'kind="too_many_requests"} 3.0') == 1
