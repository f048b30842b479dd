"""The enforce tier: per check type, random parameters, outputs sampled under the compiled
constraint by the strict scripted backend, verdicts by the checks themselves (IFEval-exact),
never by the compiler's code."""

from __future__ import annotations

import asyncio
import random
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parlantish.backends import ScriptedBackend
from parlantish.blueprint import lint_file, load_blueprint_text
from parlantish.checks import build_check
from parlantish.checks.enforce import (
    MAX_EXCLUDES,
    EnforceError,
    case_forms,
    plan_enforcement,
)
from parlantish.compiler import compile_plan, explain_tiers
from parlantish.core import GenerationRequest, SamplingSettings
from parlantish.core.constraints import ConstraintKind
from parlantish.core.formats import format_error
from parlantish.errors import UserError
from parlantish.runtime.attempt import run_attempt

LONGFORM = """
blueprint: enforce-longform
instructions:
  rules: Follow the rules.
checkpoints:
  - id: plan
    recall: [rules]
    ask: Will the reply follow the rules?
    answer: {type: boolean}
segments:
  count: {min: 1, max: 3}
  max_tokens: 24
  recall: [rules]
"""
PLAIN = """
blueprint: enforce-plain
instructions:
  rules: Follow the rules.
"""

WORDS = ["the", "plan", "works", "Cat", "dog", "note", "end", "Yes", "house", "it"]


class Sampler:
    """A stand-in for constrained decoding: walks the request's format tree, writing free text
    from a word pool character by character and skipping any character that would complete an
    excluded string (as a grammar mask does); honours stop strings and ``min_tokens``."""

    def __init__(self, seed: int, pool: list[str]):
        self.rng = random.Random(seed)
        self.pool = pool
        self.min_words = 0

    def __call__(self, request: GenerationRequest) -> str:
        constraint = request.constraint
        self.min_words = request.sampling.min_tokens
        if constraint is None:
            text = self.free([], request.sampling.max_tokens)
        elif constraint.kind is ConstraintKind.REGEX:
            text = self.regex(constraint.payload)
        else:
            assert constraint.kind is ConstraintKind.STRUCTURAL_TAG
            text = self.node(constraint.payload["format"])
        return self.stop(request.sampling, text)

    def stop(self, sampling: SamplingSettings, text: str) -> str:
        """Cut at the first stop string after ``min_tokens`` words, as an engine stops."""
        ends = [
            found + len(stop)
            for stop in sampling.stop
            for found in [m.start() for m in re.finditer(re.escape(stop), text)]
            if len(text[: found + len(stop)].split()) > sampling.min_tokens
        ]
        if not ends:
            return text
        end = min(ends)
        if sampling.include_stop_str_in_output:
            return text[:end]
        stop = next(s for s in sampling.stop if text[:end].endswith(s))
        return text[: end - len(stop)]

    def regex(self, pattern: str) -> str:
        alternation = re.fullmatch(r"\(([^()]*)\)", pattern)
        if alternation:
            return self.rng.choice(alternation.group(1).split("|"))
        chars = re.fullmatch(r"\[([A-Za-z0-9]+)\]", pattern)
        assert chars, f"the sampler cannot write /{pattern}/"
        return self.rng.choice(chars.group(1))

    def free(self, excludes: list[str], max_tokens: int, lead: str = "") -> str:
        low = max(1, self.min_words)
        count = min(max_tokens, self.rng.randint(low, low + 8))
        words = [self.rng.choice(self.pool) for _ in range(count)]
        text = lead
        pieces = iter(
            [" ".join(words), *(f" {self.rng.choice([*self.pool, '7'])}" for _ in range(99))]
        )
        for piece in pieces:
            for char in piece:
                if not any((text + char).endswith(w) for w in excludes):
                    text += char
            if len(text.split()) >= low:
                break
        return text[len(lead) :] if lead else text

    def node(self, node: dict[str, Any], before: str = "") -> str:
        kind = node["type"]
        if kind == "const_string":
            return str(node["value"])
        if kind == "regex":
            return self.regex(node["pattern"])
        if kind == "any_text":
            return self.free(node.get("excludes", []), node.get("max_tokens", 8))
        if kind == "sequence":
            text = ""
            for element in node["elements"]:
                text += self.node(element)
            return text
        if kind == "optional":
            return self.node(node["content"]) if self.rng.random() < 0.5 else ""
        if kind == "or":
            return self.node(self.rng.choice(node["elements"]))
        raise AssertionError(f"the sampler has no {kind}")


def _run(plan: Any, checks: list[Any], seed: int, pool: list[str]) -> Any:
    backend = ScriptedBackend(Sampler(seed, pool))  # validates every output strictly
    sampling = SamplingSettings(max_tokens=plan.max_tokens, seed=seed)
    return asyncio.run(run_attempt(plan, backend, sampling, checks))


def _assert_enforced_hold(plan: Any, checks: list[Any], seed: int, pool: list[str]) -> None:
    attempt = _run(plan, checks, seed, pool)
    assert attempt.error_kind in (None, "checks"), attempt.error
    enforced = [o for o in attempt.checks if o.tier == "enforced"]
    assert enforced, "nothing was enforced"
    for outcome in enforced:
        assert outcome.passed, (outcome.name, outcome.detail, attempt.text)


word = st.text(alphabet="abcdefghijklmnopqrstuvwxyzAEIKS", min_size=1, max_size=12)
phrase = st.lists(word, min_size=1, max_size=4).map(" ".join)
specs = st.one_of(
    st.just("punctuation:no_comma"),
    st.lists(word, min_size=1, max_size=4).map(
        lambda ws: {"keywords:forbidden_words": {"forbidden_words": ws}}
    ),
    phrase.map(lambda p: {"startend:end_checker": {"end_phrase": p + "?"}}),
    phrase.map(lambda p: {"combination:repeat_prompt": {"prompt_to_repeat": p}}),
    st.just("startend:quotation"),
    st.builds(
        lambda t, cs: {"not_contains": {"text": t, "case_sensitive": cs}}, word, st.booleans()
    ),
    st.builds(
        lambda k, n: {
            "keywords:frequency": {"keyword": k, "frequency": n, "relation": "less than"}
        },
        phrase,
        st.integers(1, 3),
    ),
    st.builds(
        lambda c, n: {
            "keywords:letter_frequency": {
                "letter": c,
                "let_frequency": n,
                "let_relation": "less than",
            }
        },
        st.sampled_from("aeiksAEIKS"),
        st.integers(1, 2),
    ),
    st.integers(1, 3).map(
        lambda n: {"detectable_format:number_highlighted_sections": {"num_highlights": n}}
    ),
    st.integers(1, 3).map(
        lambda n: {"detectable_content:number_placeholders": {"num_placeholders": n}}
    ),
    st.just("detectable_format:title"),
    st.just("detectable_format:constrained_response"),
    st.sampled_from(["P.S.", "P.P.S", "Note:"]).map(
        lambda m: {"detectable_content:postscript": {"postscript_marker": m}}
    ),
    phrase.map(lambda p: {"starts_with": p}),
    phrase.map(lambda p: {"ends_with": p + "."}),
    st.integers(0, 3).map(lambda n: {"detectable_format:number_bullet_lists": {"num_bullets": n}}),
    st.just("combination:two_responses"),
    st.integers(1, 4).map(
        lambda n: {"length_constraints:number_paragraphs": {"num_paragraphs": n}}
    ),
    st.builds(
        lambda n, name: {
            "detectable_format:multiple_sections": {"num_sections": n, "section_spliter": name}
        },
        st.integers(1, 3),
        st.sampled_from(["SECTION", "Section", "Day"]),
    ),
)
ARMS = [
    (PLAIN, "direct", "fused"),
    (LONGFORM, "enforced", "fused"),
    (LONGFORM, "enforced", "stepwise"),
]


def _pool(raw: list[Any], rng: random.Random) -> list[str]:
    """Words likely to break the checks: theirs, in every case, with commas and quotes."""
    pool = [*WORDS, ",", '"', "P.S.", "x,y", "<<", ">>", "My answer is", "*", "[", "]"]
    pool += ["\n", "\n- a", "\n* b", "-", "\n\t", "\u3000", "******", "***", "\n\n", " *** "]
    for spec in raw:
        for value in spec.values() if isinstance(spec, dict) else []:
            inner = value if isinstance(value, dict) else {"text": value}
            for v in inner.values():
                for w in v if isinstance(v, list) else [v]:
                    if isinstance(w, str):
                        pool += [w, w.upper(), w.swapcase(), w.title()]
    return pool


@pytest.mark.parametrize(("source", "arm", "execution"), ARMS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.lists(specs, min_size=1, max_size=3), seed=st.integers(0, 2**16))
def test_enforced_checks_hold_on_sampled_outputs(source, arm, execution, raw, seed):
    blueprint = load_blueprint_text(source)
    checks = [build_check(spec) for spec in raw]
    plan = compile_plan(blueprint, arm=arm, checks=checks, execution=execution, enforce="auto")
    if not plan.enforcement.enforced:
        return  # every check clashed with an earlier one: nothing to hold
    for sample in range(3):
        _assert_enforced_hold(plan, checks, seed + sample, _pool(raw, random.Random(seed)))


def test_without_enforcement_the_same_sampler_breaks_the_checks():
    # The sampler is adversarial: without the constraint it writes commas and the words.
    checks = [build_check("punctuation:no_comma")]
    plan = compile_plan(load_blueprint_text(PLAIN), arm="direct", checks=checks)
    outcomes = [_run(plan, checks, seed, [",", "a"]).checks[0] for seed in range(5)]
    assert not any(o.passed for o in outcomes)
    assert {o.tier for o in outcomes} == {"none"}


def test_case_forms_cover_every_ignorecase_match():
    for word in ["kiss", "Sim", "ok"]:
        forms = set(case_forms(word))
        prefix_len = len(next(iter(forms)))
        for point in range(0x110000):
            char = chr(point)
            for i, letter in enumerate(word[:prefix_len]):
                if re.fullmatch(re.escape(letter), char, re.IGNORECASE):
                    variant = word[:i] + char + word[i + 1 : prefix_len]
                    assert variant in forms


@pytest.mark.parametrize(("check", "holds"), [("lowercase", str.islower), ("capital", str.isupper)])
@pytest.mark.parametrize(("source", "arm", "execution"), ARMS)
def test_a_case_rule_shapes_the_text_yet_stays_reminded(source, arm, execution, check, holds):
    checks = [
        build_check(f"change_case:english_{check}"),
        build_check({"keywords:forbidden_words": {"forbidden_words": ["plan"]}}),
        build_check({"detectable_format:number_bullet_lists": {"num_bullets": 2}}),
    ]
    blueprint = load_blueprint_text(source)
    plan = compile_plan(blueprint, arm=arm, checks=checks, execution=execution, enforce="auto")
    assert plan.enforcement.enforced == {
        "keywords:forbidden_words",
        "detectable_format:number_bullet_lists",
    }
    pool = [*WORDS, "Émile", "ǅ", "ß", "ΣΑΣ", "ﬃ", "Ⓐ", "ⓐ", "ℹ", "ǲ"]
    for seed in range(8):
        attempt = _run(plan, checks, seed, pool)
        assert attempt.error_kind in (None, "checks"), attempt.error
        assert holds(attempt.text), attempt.text  # str's own case test, not the compiler's
        tiers = {o.name: o.tier for o in attempt.checks}
        assert tiers[f"change_case:english_{check}"] in ("reminded", "none")
        # Two bullets, by a regex of IFEval's bullet definition.
        assert len(re.findall(r"^\s*(?:\*[^*]|-)", attempt.text, flags=re.MULTILINE)) == 2


HIGHLIGHT = {"detectable_format:number_highlighted_sections": {"num_highlights": 1}}
POSTSCRIPT = {"detectable_content:postscript": {"postscript_marker": "P.S."}}


@pytest.mark.parametrize(
    ("specs", "breaking"),
    [
        # Each text fits the pieces of the checks before the last, which it breaks: the last
        # piece must be refused (found in review: combinations the first merge let through).
        ([{"detectable_format:number_bullet_lists": {"num_bullets": 0}}, HIGHLIGHT],
         "*Alpha*\nBody text."),
        ([{"detectable_format:number_bullet_lists": {"num_bullets": 0}}, {"starts_with": "- No"}],
         "- NoBody text."),
        (["combination:two_responses", POSTSCRIPT,
          {"startend:end_checker": {"end_phrase": "***Done"}}],
         "Response 1: Aa\n******\nResponse 2: Bb\nP.S. x******Done"),
        ([{"length_constraints:number_paragraphs": {"num_paragraphs": 2}}, POSTSCRIPT,
          {"startend:end_checker": {"end_phrase": "**Bye"}}],
         "A\n***\nBody\nP.S. x***Bye"),
        ([{"starts_with": "Hi*"}, HIGHLIGHT], "Hi**a*\nBody"),
    ],
)  # fmt: skip
def test_pieces_that_would_break_an_earlier_one_are_refused(specs, breaking):
    checks = [build_check(spec) for spec in specs]
    assert not all(check(breaking).passed for check in checks)  # the reason, shown
    decisions = plan_enforcement(checks, "auto").decisions
    assert [d.enforced for d in decisions[:-1]] == [True] * (len(specs) - 1)
    assert not decisions[-1].enforced, decisions[-1]


def test_an_excluded_line_break_is_refused_where_segments_join():
    check = build_check({"not_contains": {"text": "\nThe", "case_sensitive": True}})
    assert not plan_enforcement([check], "auto").decisions[0].enforced


def test_case_with_enforce_true_is_refused_with_what_stays_reminded():
    check = build_check({"check": "change_case:english_lowercase", "enforce": True})
    with pytest.raises(EnforceError, match="langdetect"):
        plan_enforcement([check], "auto")


def test_the_format_check_reads_excludes_strictly():
    fmt = {"type": "sequence", "elements": [{"type": "any_text", "excludes": ["ab"]}]}
    assert format_error(fmt, "a b a") is None
    assert "excluded" in (format_error(fmt, "xxab") or "")
    assert format_error({"type": "any_text", "max_chars": 3}, "abcd") is not None


def test_tiers_in_results_and_modes():
    checks = [
        build_check("punctuation:no_comma"),
        build_check({"language:response_language": {"language": "en"}}),
    ]
    blueprint = load_blueprint_text(LONGFORM)
    blueprint_plan = compile_plan(blueprint, arm="blueprint", checks=checks)
    assert blueprint_plan.enforcement.enforced == frozenset()  # the blueprint arm: off by default
    assert (
        blueprint_plan.constraint == compile_plan(blueprint, arm="remind", checks=checks).constraint
    )
    enforced = compile_plan(blueprint, arm="enforced", checks=checks)
    assert enforced.enforcement.enforced == {"punctuation:no_comma"}
    attempt = _run(enforced, checks, 1, ["hello", "there"])
    assert {o.name: o.tier for o in attempt.checks} == {
        "punctuation:no_comma": "enforced",
        "language:response_language": "reminded",
    }
    # A Guard call's (or the blueprint's) enforce turns it on for the blueprint arm too.
    on = compile_plan(blueprint, arm="blueprint", checks=checks, enforce="auto")
    assert on.enforcement.enforced == {"punctuation:no_comma"}


def test_enforce_true_on_a_check_that_cannot_compile(tmp_path):
    source = (
        LONGFORM + "checks:\n  - {check: language:response_language, language: en, enforce: true}\n"
    )
    (tmp_path / "bp.yaml").write_text(source)
    problems = lint_file(tmp_path / "bp.yaml")
    assert len(problems) == 1
    assert problems[0].location.line == 15
    assert "language:response_language" in problems[0].message
    assert "not expressible" in problems[0].message
    with pytest.raises(UserError, match="15:5: check 'language:response_language'"):
        load_blueprint_text(source)
    check = build_check({"check": "language:response_language", "language": "en", "enforce": True})
    with pytest.raises(EnforceError, match="response_language"):
        compile_plan(load_blueprint_text(LONGFORM), arm="blueprint", checks=[check])
    # A baseline arm reads true as auto: it reminds, or does nothing, rather than fail.
    assert not compile_plan(
        load_blueprint_text(LONGFORM), arm="direct", checks=[check]
    ).enforcement.enforced


def test_explain_names_tier_and_reason():
    source = (
        LONGFORM
        + "checks:\n  - punctuation:no_comma\n  - {language:response_language: {language: en}}\n"
    )
    rows = explain_tiers(load_blueprint_text(source), "enforced")
    assert rows[0][:2] == ("punctuation:no_comma", "enforced")
    assert "excluded from the reply text" in rows[0][2]
    assert rows[1] == ("language:response_language", "reminded", "not expressible as a constraint")


def test_a_huge_forbidden_list_is_refused_quickly():
    words = [f"word{i}" for i in range(5000)]
    check = build_check(
        {"check": "keywords:forbidden_words", "forbidden_words": words, "enforce": True}
    )
    with pytest.raises(EnforceError, match=str(MAX_EXCLUDES)):
        plan_enforcement([check], "auto")
    auto = plan_enforcement(
        [build_check({"keywords:forbidden_words": {"forbidden_words": words}})], "auto"
    )
    assert not auto.decisions[0].enforced
