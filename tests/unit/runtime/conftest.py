import json
from pathlib import Path

import pytest

from parlantish.blueprint import load_blueprint
from parlantish.compiler import compile_plan

BLUEPRINTS = Path(__file__).parents[3] / "blueprints"
SUPPORT = BLUEPRINTS / "support-refunds.yaml"
USER = [{"role": "user", "content": "I was charged twice, refund me!"}]
VARIABLES = {"customer_name": "Dana"}
GOOD = "Hello Dana, I cannot approve that myself, but a human agent will review it."
BAD = "Hello Dana. Your refund has been approved."


def arq_text(reply: str, blueprint_path=SUPPORT, variables=VARIABLES) -> str:
    """A valid ARQ output of the blueprint with the given reply (answers filled by type)."""
    plan = compile_plan(load_blueprint(blueprint_path), variables, USER)
    value = {}
    for c in plan.checkpoints:
        part = {"recall": dict(c.recall)} if c.recall else {}
        part["ask"] = c.ask
        part["answer"] = {"boolean": True, "string": "a short answer"}.get(
            c.answer_schema["type"], "x"
        )
        value[c.id] = part
    if plan.layout.reply_recall:
        value["reply_recall"] = dict(plan.layout.reply_recall)
    value["reply"] = reply
    return json.dumps(value)


@pytest.fixture
def good():
    return arq_text(GOOD)


@pytest.fixture
def bad():
    return arq_text(BAD)
