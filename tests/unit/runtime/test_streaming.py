from parlantish.blueprint import load_blueprint
from parlantish.compiler import compile_plan
from parlantish.runtime.streaming import (
    CheckpointEvent,
    StreamParser,
    TextDelta,
    _decode_partial_json_string,
)

from .conftest import BLUEPRINTS, USER, arq_text


def feed_in_pieces(parser, text, size):
    events = []
    for start in range(0, len(text), size):
        events += parser.feed(text[start : start + size])
    return events


def test_partial_json_strings_decode_only_complete_escapes():
    assert _decode_partial_json_string('a\\nb\\u00e9c"rest') == ("a\nbéc", True)
    assert _decode_partial_json_string("abc\\") == ("abc", False)
    assert _decode_partial_json_string("ab\\u00") == ("ab", False)


def test_arq_stream_in_one_character_pieces():
    plan = compile_plan(
        load_blueprint(BLUEPRINTS / "support-refunds.yaml"), {"customer_name": "D"}, USER
    )
    text = arq_text('Line one\nand "two"').replace(" ", "")  # compact, as xgrammar writes it
    events = feed_in_pieces(StreamParser(plan), text, 1)
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
        events = feed_in_pieces(StreamParser(plan), text, size)
        visible = "".join(e.text for e in events if isinstance(e, TextDelta))
        assert visible == "Part one.\nPart two.\nPart three."
