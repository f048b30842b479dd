import json

import pytest

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


def test_a_repeated_judge_votes_and_its_disagreement_is_measured(monkeypatch):
    from parlantish.runtime.result import Attempt, CheckOutcome
    from parlantish.testing.result import judge_agreement

    votes = [True, False, True]
    backend = ScriptedBackend(
        [{"reasoning": f"vote {i}", "verdict": v} for i, v in enumerate(votes)]
    )
    monkeypatch.setattr(judge, "resolve_backend", lambda spec: backend)
    check = build_check(
        {"judge": {"question": "Polite?", "repeats": 3, "agree": 2, "temperature": 0.7}}
    )
    result = check("Hello")
    assert result.passed and result.detail.startswith("votes 2/3 yes (needs 2); vote 0")
    assert [r.sampling.seed for r in backend.requests] == [0, 1, 2]
    assert judge.judge_votes(result.detail) == (2, 3)
    outcome = CheckOutcome(name="judge", passed=True, detail=result.detail, deterministic=False)
    attempt = Attempt(index=0, backend="b", temperature=0.7, checks=[outcome], passed=True)
    agreement = judge_agreement([attempt, attempt])
    # Two of three repeats agree: of the three pairs of repeats, two disagree.
    assert agreement.judged == 2 and agreement.split == 2
    assert agreement.disagreement_rate == pytest.approx(2 / 3)


def test_judge_repeats_are_validated_where_they_are_written():
    from parlantish.checks import CheckSpecError

    with pytest.raises(CheckSpecError, match="greedy judge"):
        build_check({"judge": {"question": "Polite?", "repeats": 3}})
    with pytest.raises(CheckSpecError, match="more than repeats"):
        build_check({"judge": {"question": "Polite?", "repeats": 2, "agree": 3, "temperature": 1}})
