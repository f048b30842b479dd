"""VLLMEngine behaviour that needs no engine."""

import os

from parlantish.backends.vllm_engine import _engine_core_in_process

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
