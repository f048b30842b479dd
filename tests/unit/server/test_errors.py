"""Every error is in OpenAI's shape, and a 500 says nothing of the proxy's internals."""

import json

from fastapi.testclient import TestClient

from parlantish.backends import ScriptedBackend
from parlantish.errors import ParlantishError
from parlantish.server import ProxyConfig, create_app, guarded, load_blueprints, relay

from .test_proxy_app import GOOD, arq, body, sse_events

SECRET = "secret detail at /srv/app/internal.py"


def client(folder):
    backend = ScriptedBackend([arq(GOOD)], cycle=True)
    config = ProxyConfig(upstream="scripted", blueprints=load_blueprints(folder), passthrough=True)
    return TestClient(create_app(config, backend), raise_server_exceptions=False)


def fail(*_, **__):
    raise RuntimeError(SECRET)


def assert_bare_500(response):
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "internal_error" and error["code"] == "internal"
    assert SECRET not in response.text and "Traceback" not in response.text


def test_an_unexpected_exception_is_a_bare_500(folder, monkeypatch):
    monkeypatch.setattr(guarded, "_extension", fail)
    monkeypatch.setattr(relay, "completion", fail)
    proxy = client(folder)
    assert_bare_500(proxy.post("/v1/chat/completions", json=body()))
    plain = {"model": "upstream-model", "messages": body()["messages"]}
    assert_bare_500(proxy.post("/v1/chat/completions", json=plain))
    assert 'kind="internal"} 2.0' in proxy.get("/metrics").text


def test_an_internal_parlantish_error_is_a_bare_500(folder, monkeypatch):
    def fail_inside(*_, **__):
        raise ParlantishError(SECRET)

    monkeypatch.setattr(guarded, "_extension", fail_inside)
    assert_bare_500(client(folder).post("/v1/chat/completions", json=body()))


def test_a_failure_after_the_stream_started_is_a_bare_error_event(folder, monkeypatch):
    monkeypatch.setattr(guarded, "_extension", fail)
    request = body("blueprint:refunds-once", stream=True)
    response = client(folder).post("/v1/chat/completions", json=request)
    assert response.status_code == 200  # the status line went out before the failure
    events = sse_events(response)
    assert events[-1] == "[DONE]" and events[-2]["error"]["code"] == "internal"
    assert SECRET not in response.text


def test_unknown_routes_and_methods_answer_in_openai_shape(folder):
    proxy = client(folder)
    for response in (proxy.get("/v1/nothing"), proxy.get("/v1/chat/completions")):
        assert response.status_code in (404, 405)
        error = json.loads(response.text)["error"]
        assert set(error) == {"message", "type", "param", "code"}
