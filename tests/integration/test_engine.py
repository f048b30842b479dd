"""The real in-process vLLM engine on the embedded model."""

import asyncio

import pytest

from parlantish.backends import Constraint, GenerationRequest, SamplingSettings
from parlantish.errors import ConstraintError, UserError

from .constraint_cases import CASES, QUESTION, request_for

pytestmark = pytest.mark.engine


@pytest.mark.parametrize("name", list(CASES))
def test_each_constraint_kind_is_honoured(engine, name):
    result = engine.generate(request_for(name))
    CASES[name][2](result.text)
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0
    assert result.latency_s > 0


def test_structural_tag_bounds_free_text(engine):
    # Each any_text has max_tokens=24: the free text between the forced reminders stays within it.
    from .constraint_cases import REMINDERS

    text = engine.generate(request_for("structural_tag")).text
    first_free = text[len(REMINDERS[0]) : text.index(REMINDERS[1])]
    second_free = text[text.index(REMINDERS[1]) + len(REMINDERS[1]) :]
    tokenizer = engine.llm.get_tokenizer()
    for free in (first_free, second_free):
        assert len(tokenizer.encode(free, add_special_tokens=False)) <= 24 + 2  # +2: re-tokenizing


def test_a_mixed_batch_runs_together_and_keeps_order(engine):
    names = list(CASES) * 2
    results = engine.generate_many(
        [request_for(n, temperature=0.8, seed=i) for i, n in enumerate(names)]
    )
    for name, result in zip(names, results, strict=True):
        CASES[name][2](result.text)


def test_async_callers_share_the_engine(engine):
    async def main():
        return await asyncio.gather(
            *(engine.agenerate(request_for("json_schema", 0.7, s)) for s in range(6))
        )

    for result in asyncio.run(main()):
        CASES["json_schema"][2](result.text)


def test_seeded_sampling_is_reproducible(engine):
    one = engine.generate(request_for("regex", temperature=1.0, seed=42)).text
    two = engine.generate(request_for("regex", temperature=1.0, seed=42)).text
    assert one == two


def test_streaming_gives_the_same_text_in_pieces(engine):
    request = GenerationRequest(messages=QUESTION, sampling=SamplingSettings(max_tokens=24))
    deltas = list(engine.stream(request))
    assert len(deltas) > 2
    assert "".join(d.text for d in deltas) == deltas[-1].result.text
    assert deltas[-1].result.text == engine.generate(request).text


def test_raw_prompt_and_n_samples(engine):
    request = GenerationRequest(
        prompt="The capital of France is",
        sampling=SamplingSettings(max_tokens=5, temperature=1.0, n=3, seed=1),
    )
    result = engine.generate(request)
    assert len(result.completions) == 3
    assert result.usage.completion_tokens == sum(c.completion_tokens for c in result.completions)


def test_continue_final_message_prefills_the_reply(engine):
    request = GenerationRequest(
        messages=[*QUESTION, {"role": "assistant", "content": "Reminder: no refunds. My answer:"}],
        continue_final_message=True,
        sampling=SamplingSettings(max_tokens=8),
    )
    assert engine.generate(request).usage.completion_tokens >= 1


def test_a_grammar_vllm_rejects_is_a_constraint_error(engine):
    bad = GenerationRequest(
        messages=QUESTION, constraint=Constraint.grammar('start: "unterminated')
    )
    with pytest.raises(ConstraintError, match="grammar"):
        engine.generate(bad)
    # the engine keeps serving after a rejected request
    CASES["choice"][2](engine.generate(request_for("choice")).text)


def test_a_prompt_longer_than_the_context_is_a_user_error(engine):
    with pytest.raises(UserError):
        engine.generate(GenerationRequest(prompt="word " * 5000))


def test_settings_left_unset_take_the_models_defaults(engine):
    # The embedded model's generation config sets a repetition penalty (it keeps the 135M model
    # out of loops); a request that leaves it unset gets it, one that sets it keeps its own.
    assert engine.model_defaults["repetition_penalty"] == 1.1
    unset = GenerationRequest(prompt="Hi", sampling=SamplingSettings(max_tokens=4))
    own = GenerationRequest(
        prompt="Hi", sampling=SamplingSettings(max_tokens=4, repetition_penalty=1.0)
    )
    assert engine.sampling_params(unset).repetition_penalty == 1.1
    assert engine.sampling_params(own).repetition_penalty == 1.0
