"""The Guard, the evaluator and the proxy are three callers of one attempt pipeline: for the
same seeded generation they send the same request and reach the same verdict and usage."""

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from parlantish.backends import ScriptedBackend
from parlantish.blueprint import load_blueprint
from parlantish.compiler import compile_plan, example_output
from parlantish.errors import AttemptsExhaustedError
from parlantish.eval import Evaluator, load_suite, read_results
from parlantish.eval.ruler import TokenRuler
from parlantish.runtime import Guard
from parlantish.server import ProxyConfig, create_app, load_blueprints

BLUEPRINTS = Path(__file__).parents[2] / "blueprints"
SUPPORT = BLUEPRINTS / "support-refunds.yaml"
USER = [{"role": "user", "content": "I was charged twice."}]
VARIABLES = {"customer_name": "Dana"}
REPLIES = {
    "passing": "Hello Dana, a human agent will review your request.",
    "failing": "Hello Dana, your refund has been approved.",
}


def backend_for(reply):
    plan = compile_plan(load_blueprint(SUPPORT), VARIABLES, USER)
    return ScriptedBackend(lambda request: example_output(plan, reply), cycle=True)


def evaluator_attempt(tmp_path, reply):
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"suite: agreement\narms: [blueprint]\nsamples: 1\nseed: 5\n"
        f"sampling: {{temperature: 0.7, top_p: 1.0}}\n"
        f"scenarios:\n  - id: refund\n    blueprint: {SUPPORT}\n"
        f"    variables: {{customer_name: Dana}}\n"
        f'    messages: [{{role: user, content: "{USER[0]["content"]}"}}]\n'
    )
    backend = backend_for(reply)
    evaluator = Evaluator(load_suite(suite), backend, tmp_path / "out", ruler=TokenRuler())
    evaluator.run()
    (record,) = read_results(tmp_path / "out" / "results.jsonl")
    return backend.requests[0], record["passed"], record["error_kind"], record["usage"], record


def guard_attempt(reply, seed):
    backend = backend_for(reply)
    guard = Guard(load_blueprint(SUPPORT), backend, temperature=0.7, seed=seed)
    try:
        first = guard.reply(USER, VARIABLES).attempts[0]
    except AttemptsExhaustedError as e:
        first = e.attempts[0]
    return backend.requests[0], first.passed, first.error_kind, first.usage.to_dict()


def proxy_attempt(tmp_path, reply, seed):
    folder = tmp_path / "blueprints"
    folder.mkdir()
    shutil.copy(SUPPORT, folder)
    backend = backend_for(reply)
    config = ProxyConfig(upstream="scripted", blueprints=load_blueprints(folder))
    client = TestClient(create_app(config, backend))
    response = client.post(
        "/v1/chat/completions",
        json={
            "model": "blueprint:support-refunds",
            "messages": USER,
            "temperature": 0.7,
            "seed": seed,
            "parlantish": {"variables": VARIABLES},
        },
    )
    body = response.json()
    assert response.status_code == (200 if reply == REPLIES["passing"] else 422)
    first = body["parlantish"]["attempts"][0]
    usage = {**first["usage"]}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    usage["decoded_tokens"] = usage["completion_tokens"]
    return backend.requests[0], first["passed"], first["error_kind"], usage


@pytest.mark.parametrize("outcome", sorted(REPLIES))
def test_guard_evaluator_and_proxy_agree(tmp_path, outcome):
    reply = REPLIES[outcome]
    request, passed, kind, usage, record = evaluator_attempt(tmp_path, reply)
    seed = record["seed"]
    by_guard = guard_attempt(reply, seed)
    by_proxy = proxy_attempt(tmp_path, reply, seed)
    assert passed is (outcome == "passing")
    for other in (by_guard, by_proxy):
        other_request, other_passed, other_kind, other_usage = other
        assert other_request.messages == request.messages
        assert other_request.constraint == request.constraint
        assert other_request.sampling == request.sampling
        assert (other_passed, other_kind, other_usage) == (passed, kind, usage)
