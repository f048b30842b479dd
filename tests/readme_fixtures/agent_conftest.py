"""The agent README examples talk to in the unit tier: a scripted backend that writes replies in
the plan's exact shape. ``README_AGENT=approves`` makes it approve refunds (a failing agent)."""

import os

import pytest

from parlantish.backends import ScriptedBackend
from parlantish.blueprint import load_blueprint
from parlantish.compiler import compile_plan, example_output
from parlantish.testing.settings import active

PLAN = compile_plan(
    load_blueprint("blueprints/support-refunds.yaml"),
    {"customer_name": "Dana"},
    [{"role": "user", "content": "x"}],
)
KEEPS = example_output(PLAN, "Hello Dana, a human agent will review your request.")
APPROVES = example_output(PLAN, "Hello Dana, your refund has been approved.")


@pytest.hookimpl(trylast=True)  # after the plugin has made the run's settings
def pytest_configure(config):
    reply = APPROVES if os.environ.get("README_AGENT") == "approves" else KEEPS
    active().backend = ScriptedBackend([reply], cycle=True)
