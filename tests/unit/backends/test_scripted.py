import asyncio

import pytest

from parlantish.backends import Constraint, GenerationRequest, SamplingSettings, ScriptedBackend
from parlantish.backends.scripted import ScriptError
from parlantish.errors import BackendUnavailableError

SCHEMA = {
    "type": "object",
    "properties": {"rule": {"const": "Be brief."}, "answer": {"type": "string"}},
    "required": ["rule", "answer"],
    "additionalProperties": False,
}


def chat(text="hi", **kwargs):
    return GenerationRequest(messages=[{"role": "user", "content": text}], **kwargs)


def test_outputs_come_in_order_and_requests_are_recorded():
    backend = ScriptedBackend(["one", "two"])
    assert backend.generate(chat("a")).text == "one"
    assert backend.generate(chat("b")).text == "two"
    assert [r.messages[0].content for r in backend.requests] == ["a", "b"]
    with pytest.raises(ScriptError, match="all were used"):
        backend.generate(chat())


def test_cycle_repeats_and_functions_see_the_request():
    backend = ScriptedBackend(["x"], cycle=True)
    assert [backend.generate(chat()).text for _ in range(3)] == ["x", "x", "x"]
    echo = ScriptedBackend(lambda request: request.messages[-1].content.upper())
    assert echo.generate(chat("shout")).text == "SHOUT"


def test_dict_outputs_are_json_and_validated_against_the_schema():
    backend = ScriptedBackend(
        [{"rule": "Be brief.", "answer": "ok"}, {"rule": "Be long.", "answer": "x"}]
    )
    constraint = Constraint.json_schema(SCHEMA)
    assert (
        backend.generate(chat(constraint=constraint)).text
        == '{"rule": "Be brief.", "answer": "ok"}'
    )
    with pytest.raises(ScriptError, match="rule"):
        backend.generate(chat(constraint=constraint))


def test_validation_covers_regex_choice_grammar_and_structural_tags():
    tag = Constraint.structural_tag(
        {
            "format": {
                "type": "sequence",
                "elements": [
                    {"type": "const_string", "value": "[R] brief\n"},
                    {"type": "any_text", "max_tokens": 5},
                ],
            }
        }
    )
    cases = [
        (Constraint.regex(r"\d+"), "123", "12a"),
        (Constraint.choice(["yes", "no"]), "no", "maybe"),
        (Constraint.grammar('start: "Answer: " WORD\nWORD: /[a-z]+/'), "Answer: ok", "Answer: OK"),
        (tag, "[R] brief\nanything", "missing reminder"),
    ]
    for constraint, good, bad in cases:
        backend = ScriptedBackend([good, bad])
        assert backend.generate(chat(constraint=constraint)).text == good
        with pytest.raises(ScriptError, match="constraint"):
            backend.generate(chat(constraint=constraint))


def test_validate_false_lets_malformed_text_through():
    backend = ScriptedBackend(["not json"], validate=False)
    assert backend.generate(chat(constraint=Constraint.json_schema(SCHEMA))).text == "not json"


def test_exceptions_in_the_script_are_raised_and_batches_keep_going():
    backend = ScriptedBackend(["a", BackendUnavailableError("down"), "c"])
    results = backend.generate_many([chat(), chat(), chat()], concurrency=1)
    assert results[0].text == "a" and results[2].text == "c"
    assert isinstance(results[1], BackendUnavailableError)


def test_n_samples_and_usage():
    backend = ScriptedBackend(["one two", "three"])
    result = backend.generate(chat("four words are here", sampling=SamplingSettings(n=2)))
    assert [c.text for c in result.completions] == ["one two", "three"]
    assert result.usage.to_dict() == {
        "prompt_tokens": 4,
        "completion_tokens": 3,
        "total_tokens": 7,
        "decoded_tokens": 3,
        "prefilled_tokens": 0,
    }


def test_stream_yields_pieces_then_the_result():
    backend = ScriptedBackend(["alpha beta gamma"])
    deltas = list(backend.stream(chat()))
    assert "".join(d.text for d in deltas) == "alpha beta gamma"
    assert deltas[-1].result is not None and deltas[-1].result.text == "alpha beta gamma"
    assert all(d.result is None for d in deltas[:-1])


def test_sync_api_works_inside_a_running_event_loop():
    backend = ScriptedBackend(["sync"])

    async def main():
        return backend.generate(chat()).text

    assert asyncio.run(main()) == "sync"


def test_async_batch_runs_concurrently():
    class Counting(ScriptedBackend):
        """Counts how many requests are being generated at the same moment."""

        in_flight = peak = 0

        async def agenerate(self, request):
            Counting.in_flight += 1
            Counting.peak = max(Counting.peak, Counting.in_flight)
            try:
                await asyncio.sleep(0.01)
                return await super().agenerate(request)
            finally:
                Counting.in_flight -= 1

    backend = Counting(["r"], cycle=True)
    results = asyncio.run(backend.agenerate_many([chat() for _ in range(20)]))
    assert [r.text for r in results] == ["r"] * 20
    assert Counting.peak == 20  # all twenty were in flight together, none waited for another
    limited = Counting(["r"], cycle=True)
    Counting.peak = 0
    asyncio.run(limited.agenerate_many([chat() for _ in range(20)], concurrency=4))
    assert Counting.peak == 4


def test_not_collected_by_pytest():
    assert ScriptedBackend.__test__ is False
