"""A scripted agent for the plugin tests: its reply depends on what the user asks."""

from pathlib import Path

import pytest

BLUEPRINT = Path(__file__).parents[3] / "blueprints" / "support-refunds.yaml"

# The conftest each pytester run gets: the run's backend is a scripted agent that passes on
# "good", fails on "bad", and on "mixed" fails one seed in ten.
SCRIPTED_CONFTEST = f"""
import pytest
from parlantish.backends import ScriptedBackend
from parlantish.blueprint import load_blueprint
from parlantish.compiler import compile_plan, example_output
from parlantish.testing.settings import active

BLUEPRINT = {str(BLUEPRINT)!r}
USER = [{{"role": "user", "content": "x"}}]
PLAN = compile_plan(load_blueprint(BLUEPRINT), {{"customer_name": "Dana"}}, USER)
GOOD = example_output(PLAN, "Hello Dana, a human agent will review your request.")
BAD = example_output(PLAN, "Hello Dana, your refund has been approved.")
CALLS = []


def answer(request):
    CALLS.append(request)
    asked = request.messages[-1].content
    if asked == "good":
        return GOOD
    if asked == "bad":
        return BAD
    return BAD if request.sampling.seed % 10 == 0 else GOOD


@pytest.hookimpl(trylast=True)  # after the plugin has made the run's settings
def pytest_configure(config):
    settings = active()
    if settings.replay is None:
        settings.backend = ScriptedBackend(answer)
    else:  # replays must never reach a backend
        settings.backend = ScriptedBackend([RuntimeError("live call in replay")])
"""


@pytest.fixture
def scripted(pytester):
    pytester.makeconftest(SCRIPTED_CONFTEST)
    return pytester
