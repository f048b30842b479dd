"""Stepwise execution on the strict scripted backend: forced text is sent as the assistant's
own prefix and never generated, segments end at sentence ends, failing segments are repaired,
and accepted text streams as each segment is accepted."""

import asyncio
import itertools
import json
import re

import pytest

from parlantish.backends import ScriptedBackend
from parlantish.blueprint import load_blueprint_text
from parlantish.checks import build_checks
from parlantish.compiler import compile_plan
from parlantish.compiler.stream import CheckpointEvent, TextDelta
from parlantish.core import ConstraintKind, SamplingSettings
from parlantish.errors import UserError
from parlantish.runtime import Guard
from parlantish.runtime.attempt import run_attempt

BLUEPRINT = """
blueprint: stepwise-test
instructions:
  short: Write short sentences.
  plain: Use plain words.
checkpoints:
  - id: angle
    ask: What is the idea?
    answer: {type: string, max_length: 40}
  - id: kids
    recall: [plain]
    ask: Is it for children?
    answer: {type: boolean}
segments:
  count: {min: 2, max: 3}
  max_tokens: 8
  min_tokens: 3
  recall: [short]
checks:
  - no_comma
"""
USER = [{"role": "user", "content": "Write about tides."}]


def blueprint(extra=""):
    return load_blueprint_text(BLUEPRINT + extra)


def answering(segments):
    """A script for stepwise requests: answers match their regex; segment ``i`` (counted by the
    reminders already in the prefix) takes the next text from ``segments[i]``."""
    queues = [list(s) if isinstance(s, list) else [s] for s in segments]

    def answer(request):
        assert request.continue_final_message and request.messages[-1].role == "assistant"
        prefix = request.messages[-1].content
        if request.constraint is not None:
            assert request.constraint.kind is ConstraintKind.REGEX
            for candidate in ("yes or no", "yes"):
                if re.fullmatch(request.constraint.payload, candidate):
                    return candidate
            raise AssertionError(request.constraint.payload)
        index = prefix.count("[Reminder:")
        return queues[index].pop(0) if len(queues[index]) > 1 else queues[index][0]

    return answer


def run(plan, backend, checks=(), sink=None):
    sampling = SamplingSettings(temperature=0.7, seed=1, max_tokens=plan.max_tokens)
    return asyncio.run(run_attempt(plan, backend, sampling, list(checks), sink=sink))


def test_forced_text_is_prefilled_never_generated():
    plan = compile_plan(blueprint(), None, USER, arm="stepwise")
    assert plan.execution == "stepwise"
    backend = ScriptedBackend(
        answering(["The moon pulls hard. ", "Water rises each day. ", "Then it falls again."])
    )
    attempt = run(plan, backend)
    assert attempt.accepted and attempt.execution == "stepwise"
    assert attempt.segments == [
        "The moon pulls hard.",
        "Water rises each day.",
        "Then it falls again.",
    ]
    completions = [r.messages[-1].content for r in backend.requests]
    # Each request continues the previous one's message: its prefix grows, forced text included.
    for before, after in itertools.pairwise(completions):
        assert after.startswith(before)
    generated = [
        "yes or no",
        "yes",
        "The moon pulls hard. ",
        "Water rises each day. ",
        "Then it falls again.",
    ]
    assert attempt.requests == len(generated) == len(backend.requests)
    # The whole output is the fused plan's text: the fused constraint accepts it.
    from parlantish.backends.conformance import conformance_error

    assert conformance_error(plan.constraint, attempt.raw) is None
    forced = attempt.raw
    for piece in generated:
        forced = forced.replace(piece.rstrip(" "), "", 1)
    assert "[Checkpoint angle]" in forced and "[Reminder: Write short sentences.]" in forced
    decoded = sum(len(piece.split()) for piece in generated)
    assert attempt.usage.completion_tokens == decoded
    assert attempt.usage.prefilled_tokens > 0


def test_a_segment_cut_by_its_budget_ends_at_its_last_sentence_end():
    plan = compile_plan(blueprint(), None, USER, arm="stepwise")
    long = "One two three. Four five six seven eight nine ten"  # 10 > 8 tokens: cut
    attempt = run(
        plan, ScriptedBackend(answering([long, "Two more words here.", "That is the end"]))
    )
    assert attempt.segments[0] == "One two three."


def test_the_model_may_end_the_reply_after_the_minimum():
    plan = compile_plan(blueprint(), None, USER, arm="stepwise")
    # The second segment does not end at a sentence end followed by a space: the model ended.
    attempt = run(
        plan, ScriptedBackend(answering(["First part is here. ", "And this is the end", "x y z w"]))
    )
    assert attempt.segments == ["First part is here.", "And this is the end"]


def test_a_segment_that_breaks_a_locatable_check_is_resampled():
    plan = compile_plan(blueprint(), None, USER, arm="repair")
    assert plan.repair_attempts == 2
    checks = build_checks(["no_comma"])
    segments = [
        "Tides come in fast. ",
        ["Water, then the sand. ", "Water then the sand. "],
        "Done for now here.",
    ]
    backend = ScriptedBackend(answering(segments))
    attempt = run(plan, backend, checks)
    assert attempt.passed and attempt.segments[1] == "Water then the sand."
    (repair,) = attempt.repairs
    assert (repair.segment, repair.attempt, repair.check) == (1, 0, "no_comma")
    assert repair.text == "Water, then the sand."
    assert attempt.requests == 6  # two answers, three segments, one resample


def test_repairs_stop_after_max_attempts_and_the_verdict_decides():
    plan = compile_plan(
        blueprint("repair: {max_attempts: 1}\n"), None, USER, arm="blueprint", execution="stepwise"
    )
    checks = build_checks(["no_comma"])
    backend = ScriptedBackend(
        answering(["Tides, come in fast. ", "Water rises each day. ", "Done for now here."])
    )
    attempt = run(plan, backend, checks)
    assert len(attempt.repairs) == 1 and attempt.error_kind == "checks"


def test_a_segment_still_failing_after_its_resamples_is_cut_to_the_sentences_that_pass():
    plan = compile_plan(blueprint("repair: {max_attempts: 1}\n"), None, USER, arm="repair")
    checks = build_checks(["no_comma"])
    failing = "All done here. Sand, then rocks"  # the last segment runs to its budget
    segments = ["Tides come in fast. ", "Water rises each day. ", [failing, failing]]
    attempt = run(plan, ScriptedBackend(answering(segments)), checks)
    assert attempt.passed, attempt.checks
    assert attempt.segments[2] == "All done here."
    assert "," not in attempt.text  # judged apart from the checks: no comma is left
    assert [(r.attempt, r.cut) for r in attempt.repairs] == [(0, False), (1, True)]
    assert attempt.repairs[1].text == failing


def test_accepted_segments_stream_as_they_are_accepted():
    plan = compile_plan(blueprint(), None, USER, arm="repair")
    events = []
    segments = [
        "Tides come in fast. ",
        ["Water, then the sand. ", "Water then the sand. "],
        "Done for now here.",
    ]
    attempt = run(
        plan, ScriptedBackend(answering(segments)), build_checks(["no_comma"]), sink=events.append
    )
    assert [type(e) for e in events[:2]] == [CheckpointEvent, CheckpointEvent]
    assert events[1].answer is True
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert texts == ["Tides come in fast.", "\nWater then the sand.", "\nDone for now here."]
    assert "".join(texts) == attempt.text


def test_the_strict_script_refuses_text_past_a_stop_string():
    plan = compile_plan(blueprint(), None, USER, arm="stepwise")
    backend = ScriptedBackend(
        answering(["Four words are here. And more after it.", "x y z w", "a b c d"])
    )
    attempt = run(plan, backend)
    assert attempt.error_kind == "backend" and "would have stopped" in attempt.error


def test_the_guard_runs_stepwise_where_the_backend_continues_messages():
    guard = Guard(
        blueprint(), ScriptedBackend(answering(["Tides come in fast. ", "Water rises each day."]))
    )
    reply = guard.reply(USER)
    assert (
        reply.attempts[0].execution == "stepwise" and reply.segments[1] == "Water rises each day."
    )


def test_stepwise_on_a_backend_without_continuation_is_a_clear_error():
    backend = ScriptedBackend([])
    backend.supports_continuation = False
    with pytest.raises(UserError, match="execution: stepwise"):
        Guard(blueprint(), backend, execution="stepwise").plan(USER)
    assert Guard(blueprint(), backend).plan(USER).execution == "fused"  # auto falls back


def test_min_tokens_above_max_tokens_is_a_located_lint_error():
    with pytest.raises(UserError, match="min_tokens") as caught:
        load_blueprint_text(BLUEPRINT.replace("min_tokens: 3", "min_tokens: 30"))
    assert caught.value.location is not None and caught.value.location.line


def test_stepwise_records_say_how_they_ran():
    plan = compile_plan(blueprint(), None, USER, arm="stepwise")
    attempt = run(plan, ScriptedBackend(answering(["A b c d. ", "E f g h. ", "I j k l."])))
    dumped = json.loads(attempt.model_dump_json())
    assert dumped["execution"] == "stepwise" and dumped["requests"] == 5


def test_the_last_segment_is_not_closed_at_a_sentence_end():
    plan = compile_plan(blueprint(), None, USER, arm="stepwise")
    backend = ScriptedBackend(answering(["One two three four. ", "Five six seven. ", "A b. C d."]))
    attempt = run(plan, backend)
    assert attempt.segments[-1] == "A b. C d."
    assert backend.requests[-1].sampling.stop == ()


PROGRESS = """
  progress: >-
    {{ words }} words and {{ sentences }} sentences so far,
    {{ segments_left }} segments left for {{ who }}
variables:
  who: {type: string}
"""


def _words(text):
    return len(re.findall(r"\w+", text))  # IFEval's word count, written out here


def test_reminders_state_the_reply_s_progress_in_stepwise_plans():
    source = BLUEPRINT.replace("  recall: [short]\n", "  recall: [short]\n" + PROGRESS, 1)
    plan = compile_plan(load_blueprint_text(source), {"who": "Dana"}, USER, arm="stepwise")
    segments = ["The moon pulls hard. ", "Water rises each day. ", "It falls again."]
    backend = ScriptedBackend(answering(segments))
    attempt = run(plan, backend)
    assert attempt.accepted
    prefixes = [r.messages[-1].content for r in backend.requests]
    # The third segment's request carries two reminders, each stating the reply so far.
    reminders = re.findall(r"\n\[Reminder: ([^\]\n]*)\]\n", prefixes[-1])
    assert reminders == [
        "Write short sentences. 4 words and 1 sentences so far, 2 segments left for Dana",
        f"Write short sentences. {_words('The moon pulls hard. Water rises each day.')} "
        "words and 2 sentences so far, 1 segments left for Dana",
    ]
    # The visible reply holds the segments only: no reminder, no progress.
    assert attempt.segments == [
        "The moon pulls hard.",
        "Water rises each day.",
        "It falls again.",
    ]
    assert "Reminder" not in attempt.text and "so far" not in attempt.text


def test_fused_plans_keep_fixed_reminders():
    source = BLUEPRINT.replace("  recall: [short]\n", "  recall: [short]\n" + PROGRESS, 1)
    plan = compile_plan(load_blueprint_text(source), {"who": "Dana"}, USER, arm="blueprint")
    assert plan.execution == "fused"
    tag = json.dumps(plan.constraint.payload)
    assert "[Reminder: Write short sentences.]" in tag and "so far" not in tag


def test_a_progress_template_naming_an_unknown_variable_is_a_located_lint_error(tmp_path):
    from parlantish.blueprint import lint_file

    path = tmp_path / "bp.yaml"
    path.write_text(
        BLUEPRINT.replace(
            "  recall: [short]\n", '  recall: [short]\n  progress: "{{ wordz }} so far"\n', 1
        )
    )
    problems = [str(p) for p in lint_file(path)]
    assert any(
        "bp.yaml:" in p and "undefined variable 'wordz'" in p and "words" in p for p in problems
    ), problems
