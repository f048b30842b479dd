"""VLLMEngine behaviour that needs no engine."""

import os
import sys

import pytest

from parlantish.backends.vllm_engine import VLLMEngine, _engine_core_in_process
from parlantish.errors import BackendUnavailableError

NAME = "VLLM_ENABLE_V1_MULTIPROCESSING"


def test_the_engine_core_is_built_in_process_unless_the_user_says_otherwise(monkeypatch):
    monkeypatch.delenv(NAME, raising=False)
    with _engine_core_in_process():
        assert os.environ[NAME] == "0"  # no spawned process re-importing the user's script
    assert NAME not in os.environ  # a vLLM server started later keeps its own default
    monkeypatch.setenv(NAME, "1")
    with _engine_core_in_process():
        assert os.environ[NAME] == "1"
    assert os.environ[NAME] == "1"


def test_a_failed_start_says_the_real_cause_and_where_the_log_is(tmp_path, monkeypatch):
    monkeypatch.setenv("PARLANTISH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PARLANTISH_VERBOSE", raising=False)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")

    def failing_start(self, *args):
        print("INFO loading the model", file=sys.stderr)
        print("ERROR ValueError: 12 GiB asked for the KV cache, 3 GiB free", file=sys.stderr)
        raise RuntimeError("Engine core initialization failed. See root cause above.")

    monkeypatch.setattr(VLLMEngine, "_start", failing_start)
    with pytest.raises(BackendUnavailableError) as caught:
        VLLMEngine(model)
    message = str(caught.value)
    assert "Engine core initialization failed" in message
    assert "12 GiB asked for the KV cache" in message  # the cause, from the log
    logs = list((tmp_path / "home" / "logs").glob("engine-*.log"))
    assert len(logs) == 1 and f"engine log: {logs[0]}" in message
    assert not caught.value.retryable
