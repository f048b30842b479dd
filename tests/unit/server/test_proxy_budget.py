"""The proxy's ``max_tokens`` bounds the visible reply (the checkpoints' budget comes on top), and
every sampling field of the request body reaches the backend. The scripted backend stands in
for an engine: it cuts an output at the request's ``max_tokens`` (its tokens are whitespace-
separated pieces, counted here with ``str.split``, independently of the code under test)."""

import json

from fastapi.testclient import TestClient

from parlantish.backends import ScriptedBackend
from parlantish.server import ProxyConfig, create_app, load_blueprints
from tests.unit.server.test_proxy_app import arq, body, sse_events

LONG = " ".join(["a"] * 240)  # 240 tokens in 479 characters (the reply may have 500)
SHORT = "Hello Dana, a human agent will review your request."


def client_for(folder, reply, **backend_options):
    backend = ScriptedBackend([arq(reply)], validate=False, cut=True, **backend_options)
    proxy = ProxyConfig(upstream="scripted", blueprints=load_blueprints(folder))
    return TestClient(create_app(proxy, backend)), backend


def test_max_tokens_bounds_the_reply_not_the_checkpoints(folder):
    client, backend = client_for(folder, LONG)
    response = client.post(
        "/v1/chat/completions", json=body("blueprint:refunds-once", max_tokens=200)
    )
    assert response.status_code == 200, response.text
    data = response.json()
    content = data["choices"][0]["message"]["content"]
    assert len(content.split()) == 200 and LONG.startswith(content)
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["usage"]["reply_tokens"] == 200
    assert data["usage"]["checkpoint_tokens"] > 0
    assert data["parlantish"]["passed"] is True  # the verdict on the reply as returned
    (request,) = backend.requests
    assert request.sampling.max_tokens > 200  # the checkpoints' budget on top


def test_a_reply_within_its_budget_is_whole_and_usage_shows_both_parts(folder):
    client, backend = client_for(folder, SHORT)
    data = client.post("/v1/chat/completions", json=body(max_tokens=200)).json()
    assert data["choices"][0]["message"]["content"] == SHORT
    assert data["choices"][0]["finish_reason"] == "stop"
    usage = data["usage"]
    assert usage["reply_tokens"] == len(SHORT.split())
    assert usage["reply_tokens"] + usage["checkpoint_tokens"] == usage["completion_tokens"]
    assert backend.requests[0].sampling.max_tokens >= 200 + usage["checkpoint_tokens"]


def test_an_engine_cut_inside_the_reply_returns_what_was_written(folder):
    # The engine itself runs out inside the reply: the JSON is unfinished, the reply readable.
    client, _ = client_for(folder, LONG)
    guard_budget = {"max_tokens": 230}
    response = client.post(
        "/v1/chat/completions", json=body("blueprint:refunds-once", **guard_budget)
    )
    assert response.status_code == 200, response.text
    content = response.json()["choices"][0]["message"]["content"]
    assert 0 < len(content.split()) <= 230 and LONG.startswith(content)


def test_a_streamed_reply_stops_at_its_budget(folder):
    client, _ = client_for(folder, LONG)
    request = body("blueprint:refunds-once", max_tokens=50, stream=True)
    chunks = [
        e for e in sse_events(client.post("/v1/chat/completions", json=request)) if e != "[DONE]"
    ]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert len(text.split()) == 50 and LONG.startswith(text)
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_every_sampling_field_reaches_the_backend(folder):
    client, backend = client_for(folder, SHORT)
    fields = {
        "top_p": 0.9,
        "frequency_penalty": 0.5,
        "presence_penalty": -0.25,
        "top_k": 40,
        "min_p": 0.05,
        "repetition_penalty": 1.1,
        "min_tokens": 2,
        "seed": 7,
        "temperature": 0.4,
    }
    response = client.post("/v1/chat/completions", json=body(stop=["\u0001"], **fields))
    assert response.status_code == 200, response.text
    sent = json.loads(backend.requests[0].sampling.model_dump_json())
    assert sent["stop"] == ["\u0001"]
    assert {name: sent[name] for name in fields} == fields
