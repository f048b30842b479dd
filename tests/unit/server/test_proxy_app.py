"""The proxy app in-process (ASGI test client) on the scripted backend: routing, responses,
streaming, errors in OpenAI's shape, auth, metrics."""

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from parlantish.backends import ScriptedBackend
from parlantish.blueprint import load_blueprint
from parlantish.compiler import compile_plan, example_output
from parlantish.errors import BackendUnavailableError
from parlantish.server import ProxyConfig, create_app, load_blueprints

BLUEPRINTS = Path(__file__).parents[3] / "blueprints"
USER = [{"role": "user", "content": "Refund me!"}]
VARIABLES = {"customer_name": "Dana"}
GOOD = "Hello Dana, a human agent will review your request."
BAD = "Hello Dana, your refund has been approved."


def arq(reply):
    plan = compile_plan(load_blueprint(BLUEPRINTS / "support-refunds.yaml"), VARIABLES, USER)
    return example_output(plan, reply)


def client_for(folder, script, **config):
    backend = script if isinstance(script, ScriptedBackend) else ScriptedBackend(script)
    proxy = ProxyConfig(upstream="scripted", blueprints=load_blueprints(folder), **config)
    return TestClient(create_app(proxy, backend)), backend


def body(model="blueprint:support-refunds", **extra):
    return {"model": model, "messages": USER, "parlantish": {"variables": VARIABLES}, **extra}


def test_guarded_completion_has_the_openai_shape_and_the_trace(folder):
    client, backend = client_for(folder, [arq(GOOD)])
    response = client.post("/v1/chat/completions", json=body(temperature=0.3, seed=5))
    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "chat.completion" and data["model"] == "blueprint:support-refunds"
    assert data["choices"][0]["message"] == {"role": "assistant", "content": GOOD}
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["usage"]["completion_tokens"] > 0
    trace = data["parlantish"]
    assert trace["passed"] is True and trace["blueprint"]["name"] == "support-refunds"
    assert [c["id"] for c in trace["checkpoints"]] == ["request", "refund_asked", "plan"]
    assert {c["name"] for c in trace["checks"]} == {"not_matches", "max_sentences"}
    (request,) = backend.requests
    assert request.sampling.temperature == 0.3 and request.sampling.seed == 5
    assert request.constraint is not None  # the blueprint's constraint went upstream


def test_a_rejected_attempt_is_retried_and_usage_is_summed(folder):
    client, _ = client_for(folder, [arq(BAD), arq(GOOD)])
    data = client.post("/v1/chat/completions", json=body()).json()
    assert data["choices"][0]["message"]["content"] == GOOD
    assert len(data["parlantish"]["attempts"]) == 2
    per_attempt = data["parlantish"]["usage"]["per_attempt"]
    assert data["usage"]["completion_tokens"] == sum(u["completion_tokens"] for u in per_attempt)
    metrics = client.get("/metrics").text
    assert (
        'parlantish_check_failures_total{blueprint="support-refunds",check="not_matches"} 1.0'
        in metrics
    )


def test_header_selects_the_blueprint_and_model_map_guards_an_upstream_name(folder):
    client, _ = client_for(folder, [arq(GOOD), arq(GOOD)], model_map={"gpt-4o": "support-refunds"})
    headers = {"X-Parlantish-Blueprint": "support-refunds"}
    assert (
        client.post("/v1/chat/completions", json=body("anything"), headers=headers).status_code
        == 200
    )
    assert client.post("/v1/chat/completions", json=body("gpt-4o")).json()["parlantish"]


def sse_events(response):
    events = []
    for line in response.text.splitlines():
        if line.startswith("data: "):
            payload = line[len("data: ") :]
            events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


@pytest.mark.parametrize("blueprint", ["refunds-once", "support-refunds"])
def test_streamed_completion_is_standard_sse(folder, blueprint):
    client, _ = client_for(folder, [arq(GOOD)])
    request = body(f"blueprint:{blueprint}", stream=True, stream_options={"include_usage": True})
    response = client.post("/v1/chat/completions", json=request)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == GOOD
    finals = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"] == "stop"]
    assert len(finals) == 1 and finals[0]["parlantish"]["passed"] is True
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


def test_passthrough_is_off_by_default_and_generates_plainly_when_on(folder):
    client, _ = client_for(folder, ["plain text"])
    response = client.post("/v1/chat/completions", json={"model": "m", "messages": USER})
    assert response.status_code == 404 and response.json()["error"]["param"] == "model"
    client, backend = client_for(folder, ["plain text"], passthrough=True)
    data = client.post("/v1/chat/completions", json={"model": "m", "messages": USER}).json()
    assert data["choices"][0]["message"]["content"] == "plain text"
    assert "parlantish" not in data and backend.requests[0].constraint is None


@pytest.mark.parametrize(
    ("payload", "status", "param", "code"),
    [
        (body("blueprint:nope"), 404, "model", "unknown_blueprint"),
        (body(temperature=9), 400, "temperature", "invalid_request"),
        (body(tools=[{"type": "function"}]), 400, "tools", "invalid_request"),
        (body(n=2), 400, "n", "invalid_request"),
        (body(stop=["a", "b", "c", "d", "e"]), 400, "stop", "invalid_request"),
        (body(top_k=-2), 400, "top_k", "invalid_request"),
        (body(min_p=1.5), 400, "min_p", "invalid_request"),
        (body(repetition_penalty=0), 400, "repetition_penalty", "invalid_request"),
        ({"messages": USER}, 400, "model", "invalid_request"),
        (
            {**body(), "messages": [{"role": "robot", "content": "x"}]},
            400,
            "messages",
            "invalid_request",
        ),
        ({**body(), "parlantish": {"variables": {}}}, 422, "parlantish.variables", "variables"),
        (
            {**body(), "parlantish": {"variables": {"customer_name": 3}}},
            422,
            "parlantish.variables",
            "variables",
        ),
    ],
)
def test_errors_have_openai_shape_and_status(folder, payload, status, param, code):
    client, backend = client_for(folder, [arq(GOOD)])
    response = client.post("/v1/chat/completions", json=payload)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["code"] == code and error["message"]
    assert backend.requests == []  # nothing reached the upstream
    assert f'parlantish_failures_total{{kind="{code}"}} 1.0' in client.get("/metrics").text


def test_upstream_down_is_502_and_deadline_is_504(folder):
    down = ScriptedBackend([BackendUnavailableError("connection refused")], cycle=True)
    client, _ = client_for(folder, down)
    response = client.post("/v1/chat/completions", json=body("blueprint:refunds-once"))
    assert response.status_code == 502 and response.json()["error"]["code"] == "upstream"
    slow = ScriptedBackend([arq(GOOD)], delay_s=2.0)
    client, _ = client_for(folder, slow)
    payload = body(parlantish={"variables": VARIABLES, "deadline_s": 0.2})
    response = client.post("/v1/chat/completions", json=payload)
    assert response.status_code == 504 and response.json()["error"]["code"] == "deadline"


def test_checks_failing_every_attempt_is_422_with_the_attempts(folder):
    client, _ = client_for(folder, [arq(BAD)] * 3)
    response = client.post("/v1/chat/completions", json=body())
    assert response.status_code == 422
    data = response.json()
    assert data["error"]["code"] == "checks_failed" and len(data["parlantish"]["attempts"]) == 3


def test_api_key_is_required_everywhere_but_health(folder):
    client, backend = client_for(folder, [arq(GOOD)], api_key="sekret")
    assert client.post("/v1/chat/completions", json=body()).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    response = client.post("/v1/chat/completions", json=body(), headers=wrong)
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"
    assert client.get("/v1/models").status_code == 401 and client.get("/metrics").status_code == 401
    assert backend.requests == []
    assert client.get("/health").status_code == 200
    right = {"Authorization": "Bearer sekret"}
    assert client.post("/v1/chat/completions", json=body(), headers=right).status_code == 200


def test_models_lists_blueprints_and_mapped_models(folder):
    client, _ = client_for(folder, [], model_map={"gpt-4o": "support-refunds"})
    ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert ids == ["blueprint:refunds-once", "blueprint:support-refunds", "gpt-4o"]


def test_metrics_count_requests_latency_and_tokens(folder):
    client, _ = client_for(folder, [arq(GOOD)])
    client.post("/v1/chat/completions", json=body())
    text = client.get("/metrics").text
    assert 'parlantish_requests_total{mode="guarded",status="200"} 1.0' in text
    assert 'parlantish_request_latency_seconds_count{mode="guarded"} 1.0' in text
    assert 'parlantish_tokens_total{kind="completion"}' in text


def test_a_folder_with_a_broken_blueprint_does_not_start(folder):
    (folder / "broken.yaml").write_text("blueprint: x\ncheckpoints: 3\n")
    with pytest.raises(Exception, match="checkpoints"):
        load_blueprints(folder)


@pytest.mark.parametrize("blueprint", ["refunds-once", "support-refunds"])
def test_bad_variables_in_a_streamed_request_get_a_status_before_any_event(folder, blueprint):
    client, backend = client_for(folder, [arq(GOOD)])
    request = {**body(f"blueprint:{blueprint}", stream=True), "parlantish": {"variables": {}}}
    response = client.post("/v1/chat/completions", json=request)
    assert response.status_code == 422 and response.json()["error"]["code"] == "variables"
    assert backend.requests == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"[" * 5000, "nested too deeply"),  # was a RecursionError: 500 with a traceback
        (b"{not json", "not JSON"),
        (b"[1, 2]", "must be a JSON object"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_400_in_openai_shape(folder, payload, message):
    client, backend = client_for(folder, [arq(GOOD)])
    response = client.post(
        "/v1/chat/completions", content=payload, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert message in error["message"] and error["type"] == "invalid_request_error"
    assert not backend.requests
