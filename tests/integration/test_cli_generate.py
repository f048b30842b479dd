"""`parlantish generate` end to end, as a user runs it, on the embedded model."""

import json

import pytest

from .cli import run_cli_json
from .constraint_cases import RULE, SCHEMA

pytestmark = pytest.mark.engine


def test_generate_json_prints_the_forced_const_verbatim(tmp_path, embedded_model_dir):
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(SCHEMA))
    output = run_cli_json(
        "generate",
        "--json-schema",
        str(schema),
        "--max-tokens",
        "160",
        "--json",
        "Can I get my money back?",
    )
    assert set(output) >= {"text", "finish_reason", "usage", "latency_s"}
    assert json.loads(output["text"])["recall"] == RULE
    assert RULE in output["text"]
    assert output["usage"]["completion_tokens"] > 0
