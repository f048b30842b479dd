"""The enforce tier on the real engine: enforced exclusions (no comma, forbidden words, rare
keywords and letters) and shaped parts (title, fixed answer, highlights, placeholders, two
responses, sections, bullets, postscript) hold on real sampled generations, judged by the
IFEval checks (never by the compiler's code); a case rule keeps the letters' case (judged by
``str``)."""

import asyncio

import pytest

from parlantish.backends.conformance import conformance_error
from parlantish.blueprint import load_blueprint_text
from parlantish.checks import build_check
from parlantish.compiler import compile_plan
from parlantish.core import SamplingSettings
from parlantish.runtime.attempt import run_attempt

BLUEPRINT = load_blueprint_text(
    "blueprint: enforce-smoke\nsystem: You write short friendly lists of things.\n"
    "reply: {max_length: 160}\n"  # a short free-text budget keeps the test quick
)
USER = [
    {
        "role": "user",
        "content": "Name some fruits (bananas too), vegetables and colors, with commas.",
    }
]
FORBIDDEN = ["the", "and", "apple"]
SAMPLES = 6


@pytest.mark.engine
def test_enforced_exclusions_hold_on_real_generations(engine):
    checks = [
        build_check("punctuation:no_comma"),
        build_check({"keywords:forbidden_words": {"forbidden_words": FORBIDDEN}}),
        build_check(
            {"keywords:frequency": {"keyword": "banana", "frequency": 1, "relation": "less than"}}
        ),
        build_check(
            {
                "keywords:letter_frequency": {
                    "letter": "e",
                    "let_frequency": 1,
                    "let_relation": "less than",
                }
            }
        ),
    ]
    plan = compile_plan(BLUEPRINT, messages=USER, arm="direct", checks=checks, enforce="auto")
    assert plan.enforcement.enforced == {
        "punctuation:no_comma",
        "keywords:forbidden_words",
        "keywords:frequency",
        "keywords:letter_frequency",
    }

    async def sample(seed: int):
        sampling = SamplingSettings(temperature=0.9, max_tokens=48, seed=seed)
        return await run_attempt(plan, engine, sampling, checks)

    async def every():
        return await asyncio.gather(*(sample(seed) for seed in range(SAMPLES)))

    attempts = asyncio.run(every())
    for attempt in attempts:
        assert attempt.error_kind in (None, "checks"), attempt.error
        assert attempt.text.strip()
        assert conformance_error(plan.constraint, attempt.raw) is None
        for outcome in attempt.checks:
            assert outcome.tier == "enforced"
            assert outcome.passed, (outcome.name, attempt.text)


LONGFORM = load_blueprint_text(
    "blueprint: enforce-shaped\n"
    "instructions:\n  rules: Follow the rules.\n"
    "checkpoints:\n"
    "  - id: plan\n    recall: [rules]\n    ask: Will the reply follow the rules?\n"
    "    answer: {type: boolean}\n"
    "segments:\n  count: {min: 1, max: 2}\n  max_tokens: 24\n  recall: [rules]\n"
)
SHAPED = [
    "detectable_format:title",
    "detectable_format:constrained_response",
    {"detectable_format:number_highlighted_sections": {"num_highlights": 2}},
    {"detectable_content:number_placeholders": {"num_placeholders": 2}},
    {"detectable_content:postscript": {"postscript_marker": "P.S."}},
    "punctuation:no_comma",
]
#: Bullets clash with highlighted lines (IFEval counts those as bullets too): a second set.
LISTED = [
    "detectable_format:title",
    {"detectable_format:number_bullet_lists": {"num_bullets": 3}},
    "punctuation:no_comma",
    "change_case:english_lowercase",  # held in part: the case, not langdetect's verdict
]
#: Two responses clash (conservatively) with highlights' '*': a third set.
ANSWERED = [
    "combination:two_responses",
    {"detectable_format:multiple_sections": {"section_spliter": "Part", "num_sections": 2}},
    {"detectable_content:postscript": {"postscript_marker": "P.S."}},
    "punctuation:no_comma",
]


@pytest.mark.engine
@pytest.mark.parametrize(
    ("blueprint", "arm", "execution", "specs"),
    [
        (BLUEPRINT, "direct", "fused", LISTED),
        (LONGFORM, "enforced", "fused", SHAPED),
        (LONGFORM, "enforced", "stepwise", ANSWERED),
    ],
    ids=["direct", "longform-fused", "longform-stepwise"],
)
def test_enforced_shaped_parts_hold_on_real_generations(engine, blueprint, arm, execution, specs):
    checks = [build_check(spec) for spec in specs]
    plan = compile_plan(
        blueprint, messages=USER, arm=arm, checks=checks, enforce="auto", execution=execution
    )
    partial = {"change_case:english_lowercase"}
    assert plan.enforcement.enforced == {c.name for c in checks} - partial

    async def every():
        return await asyncio.gather(
            *(
                run_attempt(
                    plan,
                    engine,
                    SamplingSettings(temperature=0.9, max_tokens=plan.max_tokens, seed=seed),
                    checks,
                )
                for seed in range(2)
            )
        )

    for attempt in asyncio.run(every()):
        assert attempt.error_kind in (None, "checks"), attempt.error
        if execution == "fused":
            assert conformance_error(plan.constraint, attempt.raw) is None
        for outcome in attempt.checks:
            if outcome.name in partial:
                assert outcome.tier == ("reminded" if arm == "enforced" else "none")
                assert attempt.text == attempt.text.lower(), attempt.text
                continue
            assert outcome.tier == "enforced"
            assert outcome.passed, (outcome.name, attempt.text)
