"""Live checked streaming: a stepwise blueprint with segment repair streams each segment once
it passed the locatable checks, even with whole-reply retries on; text once sent is final (a
later failure is not retried, the last chunk carries the verdict); whole replies of fused
blueprints with retries are still streamed only once accepted."""

import asyncio
import re

from fastapi.testclient import TestClient

from parlantish.backends import ScriptedBackend
from parlantish.blueprint import load_blueprint_text
from parlantish.compiler.stream import TextDelta
from parlantish.core import ConstraintKind
from parlantish.runtime import Guard
from parlantish.server import ProxyConfig, create_app, load_blueprints

from .test_proxy_app import sse_events

STEPWISE = """
blueprint: live-writer
instructions:
  short: Write short sentences.
checkpoints:
  - id: ready
    ask: Ready?
    answer: {type: boolean}
segments:
  count: {min: 3, max: 3}
  max_tokens: 8
  min_tokens: 3
  recall: [short]
execution: stepwise
repair: {max_attempts: 2}
checks:
  - no_comma
  - {min_words: MIN}
on_fail: {retries: 2, then: return}
"""
USER = [{"role": "user", "content": "Write about tides."}]
SEGMENTS = [
    "Tides come in fast. ",
    ["Water, then the sand. ", "Water then the sand. "],  # the first breaks no_comma
    "Done for now here.",
]


def answering(segments, seen):
    """Stepwise answers: the checkpoint's regex, then segment i (by reminders in the prefix)."""
    queues = [list(s) if isinstance(s, list) else [s] for s in segments]

    def answer(request):
        seen.append(request)
        if request.constraint is not None:
            assert request.constraint.kind is ConstraintKind.REGEX
            return "yes"
        index = request.messages[-1].content.count("[Reminder:")
        return queues[index].pop(0) if len(queues[index]) > 1 else queues[index][0]

    return answer


def blueprint_text(min_words):
    return STEPWISE.replace("MIN", str(min_words))


def test_the_first_segment_streams_before_the_reply_is_written():
    seen = []
    backend = ScriptedBackend(answering(SEGMENTS, seen), delay_s=0.05)
    guard = Guard(load_blueprint_text(blueprint_text(3)), backend)

    async def first_text_then_rest():
        at_first = None
        texts = []
        async for event in guard.astream(USER, live=True):
            if isinstance(event, TextDelta) and event.text:
                at_first = len(seen) if at_first is None else at_first
                texts.append(event.text)
        return at_first, texts

    at_first, texts = asyncio.run(first_text_then_rest())
    total = 1 + 4  # the answer, three segments and one resample
    assert len(seen) == total
    assert at_first is not None and at_first < total  # later segments were not asked for yet
    assert "".join(texts) == "Tides come in fast.\nWater then the sand.\nDone for now here."
    assert "," not in "".join(texts)  # the rejected segment never streamed


def serve(tmp_path, min_words, seen):
    (tmp_path / "live-writer.yaml").write_text(blueprint_text(min_words))
    backend = ScriptedBackend(answering(SEGMENTS, seen))
    proxy = ProxyConfig(upstream="scripted", blueprints=load_blueprints(tmp_path))
    return TestClient(create_app(proxy, backend))


def stream(client):
    body = {"model": "blueprint:live-writer", "messages": USER, "stream": True}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    events = sse_events(response)
    chunks = [e for e in events[:-1] if e["choices"]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    final = next(c for c in chunks if c["choices"][0]["finish_reason"])
    return text, final["parlantish"]


def test_the_proxy_streams_checked_segments_with_retries_on(tmp_path):
    seen = []
    text, trace = stream(serve(tmp_path, 3, seen))
    assert text == "Tides come in fast.\nWater then the sand.\nDone for now here."
    assert trace["passed"] is True and len(trace["attempts"]) == 1
    assert not re.search(",", text)


def test_a_failure_after_text_was_sent_is_not_retried_and_the_verdict_says_so(tmp_path):
    seen = []
    text, trace = stream(serve(tmp_path, 50, seen))  # min_words 50 fails on the whole reply
    assert text == "Tides come in fast.\nWater then the sand.\nDone for now here."
    assert trace["passed"] is False and len(trace["attempts"]) == 1
    failed = [c["name"] for c in trace["checks"] if not c["passed"]]
    assert failed == ["min_words"]
