"""The real vLLM OpenAI-compatible server on loopback, through the HTTP backend."""

import asyncio

import pytest

from parlantish.backends import Constraint, GenerationRequest, SamplingSettings
from parlantish.backends.vllm_server import VLLMServer
from parlantish.errors import BackendUnavailableError, ConstraintError

from .constraint_cases import CASES, QUESTION, SCHEMA, check_json, request_for

pytestmark = pytest.mark.server


@pytest.mark.parametrize("name", list(CASES))
def test_each_constraint_kind_is_honoured(server_backend, name):
    result = server_backend.generate(request_for(name))
    CASES[name][2](result.text)
    assert result.usage.prompt_tokens > 0 and result.model


def test_sixteen_concurrent_constrained_requests(server_backend):
    requests = [request_for("json_schema", temperature=0.9, seed=i) for i in range(16)]

    async def main():
        return await server_backend.agenerate_many(requests)

    results = asyncio.run(main())
    assert len(results) == 16
    for result in results:
        check_json(result.text)
    assert len({r.text for r in results}) > 1  # really sampled, not one cached answer


def test_openai_compat_response_format_path(vllm_server):
    backend = VLLMServer(vllm_server.url, compat="openai", timeout=300)
    check_json(backend.generate(request_for("json_schema")).text)


def test_streaming(server_backend):
    request = GenerationRequest(messages=QUESTION, sampling=SamplingSettings(max_tokens=20))
    deltas = list(server_backend.stream(request))
    assert len(deltas) > 2 and "".join(d.text for d in deltas) == deltas[-1].result.text
    assert deltas[-1].result.usage.completion_tokens > 0


def test_invalid_grammar_is_a_constraint_error(server_backend):
    bad = GenerationRequest(
        messages=QUESTION, constraint=Constraint.grammar('start: "unterminated')
    )
    with pytest.raises(ConstraintError):
        server_backend.generate(bad)


def test_a_server_that_is_down_is_reported(tmp_path):
    from parlantish.backends.launch import free_port

    backend = VLLMServer(f"http://127.0.0.1:{free_port()}/v1", model="m", retries=1, timeout=5)
    with pytest.raises(BackendUnavailableError, match="cannot reach"):
        backend.generate(GenerationRequest(prompt="x", constraint=Constraint.json_schema(SCHEMA)))
