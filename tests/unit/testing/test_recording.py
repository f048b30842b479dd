"""Request keys, recordings and replays, without pytest in between."""

import pytest

from parlantish.backends import GenerationRequest, SamplingSettings, ScriptedBackend
from parlantish.core import Constraint
from parlantish.testing import RecordingBackend, RecordingMissing, ReplayBackend, request_key

MESSAGES = [{"role": "user", "content": "hi"}]


def _request(**sampling):
    return GenerationRequest(
        messages=MESSAGES,
        sampling=SamplingSettings(**{"temperature": 0.7, "seed": 1, **sampling}),
        constraint=Constraint.regex(r"(yes|no)"),
    )


def test_the_key_changes_with_everything_that_changes_a_generation():
    base = request_key(_request())
    assert request_key(_request()) == base
    assert request_key(_request(seed=2)) != base
    assert request_key(_request(top_p=0.9)) != base
    other = GenerationRequest(messages=MESSAGES, sampling=_request().sampling)
    assert request_key(other) != base  # no constraint


def test_a_replay_returns_what_was_recorded_and_refuses_the_rest(tmp_path):
    live = ScriptedBackend(["yes"])
    recorder = RecordingBackend(live, tmp_path, test=lambda: "t::a")
    recorded = recorder.generate(_request())
    replay = ReplayBackend(tmp_path, test=lambda: "t::b")
    assert replay.generate(_request()) == recorded
    assert replay.supports_continuation == live.supports_continuation
    with pytest.raises(RecordingMissing, match=r"no recording for test t::b: request key \w{32}"):
        replay.generate(_request(seed=9))
    assert replay.misses == [("t::b", request_key(_request(seed=9)))]
