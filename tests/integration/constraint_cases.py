"""The constraint cases both real backends must honour, each with an independent validator."""

import json
import re

import jsonschema
import lark

from parlantish.backends import Constraint, GenerationRequest, SamplingSettings

QUESTION = [{"role": "user", "content": "A customer asks: can I get my money back?"}]
RULE = "Never promise a refund; offer to escalate to a human instead."

SCHEMA = {
    "type": "object",
    "properties": {
        "recall": {"const": RULE},
        "asks_for_refund": {"type": "boolean"},
        "reply": {"type": "string", "maxLength": 120},
    },
    "required": ["recall", "asks_for_refund", "reply"],
    "additionalProperties": False,
}
REGEX = r"(Yes|No), [a-z ]{1,30}\."
GRAMMAR = 'start: "Decision: " WORD "."\nWORD: /[a-z]{1,12}/'
REMINDERS = ["[Reminder: be brief.]\n", "\n[Reminder: never promise a refund.]\n"]
TAG = {
    "format": {
        "type": "sequence",
        "elements": [
            {"type": "const_string", "value": REMINDERS[0]},
            {"type": "any_text", "max_tokens": 24},
            {"type": "const_string", "value": REMINDERS[1]},
            {"type": "any_text", "max_tokens": 24},
        ],
    }
}


def check_json(text):
    value = json.loads(text)
    jsonschema.validate(value, SCHEMA)
    assert value["recall"] == RULE
    assert RULE in text  # the forced literal is verbatim in the raw text


def check_regex(text):
    assert re.fullmatch(REGEX, text), text


def check_choice(text):
    assert text in ("refund", "escalate", "decline")


def check_grammar(text):
    lark.Lark(GRAMMAR).parse(text)


def check_tag(text):
    first = text.index(REMINDERS[0])
    second = text.index(REMINDERS[1], first + len(REMINDERS[0]))
    assert first == 0 and second > first


CASES = {
    "json_schema": (Constraint.json_schema(SCHEMA), 400, check_json),
    "regex": (Constraint.regex(REGEX), 40, check_regex),
    "choice": (Constraint.choice(["refund", "escalate", "decline"]), 8, check_choice),
    "grammar": (Constraint.grammar(GRAMMAR), 24, check_grammar),
    "structural_tag": (Constraint.structural_tag(TAG), 96, check_tag),
}


def request_for(name, temperature=0.0, seed=None):
    constraint, max_tokens, _ = CASES[name]
    return GenerationRequest(
        messages=QUESTION,
        constraint=constraint,
        sampling=SamplingSettings(max_tokens=max_tokens, temperature=temperature, seed=seed),
    )
