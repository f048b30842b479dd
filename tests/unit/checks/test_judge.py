import json

from parlantish.backends import ScriptedBackend
from parlantish.checks import build_check, judge


def test_judge_asks_under_a_constraint_and_is_marked_non_deterministic(monkeypatch):
    backend = ScriptedBackend([{"reasoning": "It offers escalation.", "verdict": True}])
    monkeypatch.setattr(judge, "resolve_backend", lambda spec: backend)
    result = build_check({"judge": "Does the reply offer a human agent?"})("A human will call you.")
    assert result.passed and result.detail == "It offers escalation." and not result.deterministic
    assert result.to_dict()["deterministic"] is False
    request = backend.requests[0]
    assert request.constraint.payload == judge.JUDGE_SCHEMA
    assert "A human will call you." in request.messages[0].content


def test_a_failing_judge_is_a_failed_check_not_an_exception(monkeypatch):
    backend = ScriptedBackend([json.dumps({"reasoning": "x"})], validate=False)
    monkeypatch.setattr(judge, "resolve_backend", lambda spec: backend)
    result = build_check({"judge": {"question": "Polite?", "backend": "scripted"}})("Hi")
    assert not result.passed and result.detail.startswith("judge failed")
