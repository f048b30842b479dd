"""The judge check on the real embedded engine: a constrained verdict that always parses."""

import pytest

from parlantish.checks import build_check

pytestmark = pytest.mark.engine


def test_judge_on_the_embedded_model(engine):
    result = build_check({"judge": {"question": "Is this text polite?", "max_tokens": 200}})(
        "Thank you so much for your patience; we are glad to help."
    )
    assert isinstance(result.passed, bool) and not result.detail.startswith("judge failed")
    assert result.deterministic is False
