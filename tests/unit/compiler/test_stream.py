"""Each layout's stream parser emits a prefix of what its parser reads from the whole text."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parlantish.blueprint import load_blueprint
from parlantish.compiler import compile_plan, example_output
from parlantish.compiler.arq import _decode_partial_json_string
from parlantish.compiler.stream import CheckpointEvent, TextDelta

from ..runtime.conftest import BLUEPRINTS, USER, arq_text


def feed_in_pieces(parser, text, size):
    events = []
    for start in range(0, len(text), size):
        events += parser.feed(text[start : start + size])
    return events


def test_partial_json_strings_decode_only_complete_escapes():
    assert _decode_partial_json_string('a\\nb\\u00e9c"rest') == "a\nbéc"
    assert _decode_partial_json_string("abc\\") == "abc"
    assert _decode_partial_json_string("ab\\u00") == "ab"


def test_arq_stream_in_one_character_pieces():
    plan = compile_plan(
        load_blueprint(BLUEPRINTS / "support-refunds.yaml"), {"customer_name": "D"}, USER
    )
    text = arq_text('Line one\nand "two"').replace(" ", "")  # compact, as xgrammar writes it
    events = feed_in_pieces(plan.layout.stream_parser(), text, 1)
    assert [e.id for e in events if isinstance(e, CheckpointEvent)] == [
        "request",
        "refund_asked",
        "plan",
    ]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == 'Lineone\nand"two"'


def test_longform_stream_hides_reminders_even_when_split():
    plan = compile_plan(
        load_blueprint(BLUEPRINTS / "longform-writer.yaml"), {"topic": "tides"}, USER
    )
    layout = plan.layout
    head = "".join(
        f"[Checkpoint {c.id}]\n"
        + (f"Recall: {' '.join(c.recall_texts)}\n" if c.recall else "")
        + f"Question: {c.ask}\nAnswer: fine\n"
        for c in plan.checkpoints
    )
    text = (
        head + layout.reply_prefix + layout.reminder.join(["Part one.", "Part two.", "Part three."])
    )
    for size in (1, 7, 50):
        events = feed_in_pieces(plan.layout.stream_parser(), text, size)
        visible = "".join(e.text for e in events if isinstance(e, TextDelta))
        assert visible == "Part one.\nPart two.\nPart three."


PLANS = [
    ("support-refunds.yaml", {"customer_name": "D"}, arm) for arm in ("blueprint", "direct", "cot")
] + [("longform-writer.yaml", {"topic": "tides"}, arm) for arm in ("blueprint", "direct", "cot")]


@pytest.mark.parametrize(("name", "variables", "arm"), PLANS)
@settings(max_examples=25, deadline=None)
@given(
    segments=st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=3),
    size=st.integers(1, 40),
)
def test_streamed_text_is_what_the_parser_reads(name, variables, arm, segments, size):
    plan = compile_plan(load_blueprint(BLUEPRINTS / name), variables, USER, arm=arm)
    if plan.mode == "longform":
        reply = (segments + ["More."] * plan.layout.min_groups)[: len(plan.layout.groups)]
    else:
        reply = "\n".join(segments)
    text = example_output(plan, reply)
    events = feed_in_pieces(plan.layout.stream_parser(), text, size)
    streamed = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert plan.parse(text).text.startswith(streamed)


def test_an_escaped_surrogate_pair_streams_as_one_character():
    assert _decode_partial_json_string('hi \\ud83d\\ude00 there"') == "hi \U0001f600 there"
    assert _decode_partial_json_string("hi \\ud83d") == "hi "  # its partner is not written yet
