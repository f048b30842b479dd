import pytest
from pydantic import ValidationError

from parlantish.core.types import (
    Completion,
    GenerationRequest,
    GenerationResult,
    SamplingSettings,
    Usage,
)

USER = {"role": "user", "content": "hi"}


def test_request_needs_exactly_one_input():
    with pytest.raises(ValidationError, match="exactly one"):
        GenerationRequest()
    with pytest.raises(ValidationError, match="exactly one"):
        GenerationRequest(prompt="a", messages=[USER])
    with pytest.raises(ValidationError, match="must not be empty"):
        GenerationRequest(messages=[])


def test_messages_must_be_openai_chat_format():
    with pytest.raises(ValidationError):
        GenerationRequest(messages=[{"role": "robot", "content": "x"}])
    with pytest.raises(ValidationError):
        GenerationRequest(messages=[{"role": "user", "content": "x", "extra": 1}])


def test_continue_final_message_needs_assistant_prefix():
    with pytest.raises(ValidationError, match="final assistant"):
        GenerationRequest(messages=[USER], continue_final_message=True)
    request = GenerationRequest(
        messages=[USER, {"role": "assistant", "content": "Sure"}], continue_final_message=True
    )
    assert request.messages[-1].content == "Sure"


def test_sampling_bounds():
    with pytest.raises(ValidationError):
        SamplingSettings(max_tokens=0)
    with pytest.raises(ValidationError):
        SamplingSettings(top_p=0)
    assert SamplingSettings().temperature == 0.0


def test_usage_adds_and_totals():
    total = Usage(prompt_tokens=3, completion_tokens=4) + Usage(
        prompt_tokens=10, completion_tokens=1
    )
    assert total.to_dict() == {
        "prompt_tokens": 13,
        "completion_tokens": 5,
        "total_tokens": 18,
        "decoded_tokens": 5,
        "prefilled_tokens": 0,
    }


def test_result_sums_completion_tokens_over_n():
    result = GenerationResult(
        completions=(
            Completion(text="a", finish_reason="stop", completion_tokens=2),
            Completion(text="b", finish_reason="length", completion_tokens=5),
        ),
        prompt_tokens=7,
        latency_s=0.123456,
    )
    data = result.to_dict()
    assert data["text"] == "a" and data["texts"] == ["a", "b"]
    assert data["usage"]["completion_tokens"] == data["usage"]["decoded_tokens"] == 7
    assert data["usage"]["total_tokens"] == 14
    assert data["latency_s"] == 0.1235 and data["finish_reason"] == "stop"
