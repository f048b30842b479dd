"""The HTTP client's own logic, against a mocked transport (the real server is in integration)."""

import json

import httpx
import pytest
import respx

from parlantish.backends import Constraint, GenerationRequest, SamplingSettings
from parlantish.backends.vllm_server import VLLMServer
from parlantish.errors import (
    BackendError,
    BackendUnavailableError,
    ConstraintError,
    MalformedResponseError,
    UserError,
)

URL = "http://127.0.0.1:9/v1"
CHAT = f"{URL}/chat/completions"


def completion(text="ok", prompt_tokens=5, completion_tokens=2):
    return {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
    }


def request(constraint=None, **sampling):
    return GenerationRequest(
        messages=[{"role": "user", "content": "hi"}],
        constraint=constraint,
        sampling=SamplingSettings(**sampling),
    )


def server(**kwargs):
    kwargs.setdefault("model", "m")
    kwargs.setdefault("retries", 2)
    return VLLMServer(URL, **kwargs)


@pytest.mark.parametrize(
    "constraint",
    [
        Constraint.json_schema({"type": "object"}),
        Constraint.regex("a+"),
        Constraint.choice(["a"]),
        Constraint.grammar('start: "a"'),
        Constraint.structural_tag({"format": {"type": "const_string", "value": "a"}}),
    ],
)
def test_constraints_travel_in_structured_outputs_never_guided_fields(constraint):
    body = server().build_body(request(constraint, max_tokens=9, seed=3), "m")
    assert body["structured_outputs"] == constraint.to_vllm()
    assert not [k for k in body if k.startswith("guided_")]
    assert body["max_tokens"] == 9 and body["seed"] == 3 and body["model"] == "m"


def test_openai_compat_sends_json_schema_as_response_format():
    schema = {"type": "object"}
    body = server(compat="openai").build_body(request(Constraint.json_schema(schema)), "m")
    assert "structured_outputs" not in body
    assert body["response_format"]["json_schema"]["schema"] == schema


@respx.mock
def test_successful_chat_completion_is_parsed():
    route = respx.post(CHAT).mock(return_value=httpx.Response(200, json=completion("hello", 7, 3)))
    result = server().generate(request())
    assert result.text == "hello" and result.finish_reason == "stop"
    assert result.usage.to_dict() == {
        "prompt_tokens": 7,
        "completion_tokens": 3,
        "total_tokens": 10,
        "decoded_tokens": 3,
        "prefilled_tokens": 0,
    }
    sent = json.loads(route.calls.last.request.content)
    assert sent["messages"] == [{"role": "user", "content": "hi"}]


@respx.mock
def test_model_defaults_to_the_first_one_listed():
    respx.get(f"{URL}/models").mock(
        return_value=httpx.Response(200, json={"data": [{"id": "served"}]})
    )
    route = respx.post(CHAT).mock(return_value=httpx.Response(200, json=completion()))
    backend = VLLMServer(URL)
    backend.generate(request())
    assert json.loads(route.calls.last.request.content)["model"] == "served"


@respx.mock
def test_5xx_is_retried_then_succeeds():
    route = respx.post(CHAT).mock(
        side_effect=[
            httpx.Response(503, json={"error": {"message": "busy"}}),
            httpx.Response(200, json=completion("late")),
        ]
    )
    assert server().generate(request()).text == "late"
    assert route.call_count == 2


@respx.mock
def test_persistent_5xx_gives_a_backend_error_with_status_and_body():
    route = respx.post(CHAT).mock(return_value=httpx.Response(500, text="boom"))
    with pytest.raises(BackendError) as caught:
        server(retries=1).generate(request())
    assert caught.value.status == 500 and caught.value.body == "boom"
    assert route.call_count == 2


@respx.mock
def test_400_for_a_constraint_is_a_constraint_error_and_not_retried():
    route = respx.post(CHAT).mock(
        return_value=httpx.Response(
            400, json={"error": {"message": "Invalid grammar specification."}}
        )
    )
    with pytest.raises(ConstraintError, match="Invalid grammar"):
        server().generate(request(Constraint.grammar("start: x")))
    assert route.call_count == 1


@respx.mock
def test_connection_refused_is_unavailable_after_retries():
    route = respx.post(CHAT).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(BackendUnavailableError, match="cannot reach"):
        server(retries=2).generate(request())
    assert route.call_count == 3


@respx.mock
def test_timeouts_are_retried():
    route = respx.post(CHAT).mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json=completion())]
    )
    assert server().generate(request()).text == "ok"
    assert route.call_count == 2


@respx.mock
@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>not json</html>"),
        httpx.Response(200, json={"choices": [{"nope": 1}]}),
        httpx.Response(200, json={"choices": []}),
    ],
)
def test_malformed_answers_are_reported(response):
    respx.post(CHAT).mock(return_value=response)
    with pytest.raises(MalformedResponseError):
        server(retries=0).generate(request())


@respx.mock
def test_streaming_joins_chunks_and_reports_usage():
    chunks = [
        {"choices": [{"index": 0, "delta": {"content": "Hel"}}]},
        {"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 2}},
    ]
    sse = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    respx.post(CHAT).mock(
        return_value=httpx.Response(200, text=sse, headers={"content-type": "text/event-stream"})
    )
    deltas = list(server().stream(request()))
    assert [d.text for d in deltas[:-1]] == ["Hel", "lo"]
    assert deltas[-1].result.text == "Hello"
    assert deltas[-1].result.usage.total_tokens == 6


def test_a_non_http_url_is_a_user_error():
    with pytest.raises(UserError, match="http"):
        VLLMServer("localhost:8000")
