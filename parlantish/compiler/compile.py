"""The compiler: blueprint + variables + conversation + arm → ``Plan``.

A pure function. The expensive part (rendering templates and building the constraint) depends
only on the blueprint, the variables, the arm and the target, and is cached on those; the
conversation is attached per call.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import ValidationError

from parlantish.blueprint.loader import Blueprint
from parlantish.blueprint.model import AnswerSpec
from parlantish.blueprint.semantics import reply_enforce_note
from parlantish.blueprint.templates import clear_template_cache, render_template
from parlantish.blueprint.variables import resolve_variables
from parlantish.checks import Check, build_checks
from parlantish.checks.enforce import Enforcement, EnforceMode, plan_enforcement
from parlantish.compiler.answers import answer_json_schema
from parlantish.compiler.arq import ArqLayout
from parlantish.compiler.baselines import CotJsonLayout, CotTextLayout, DirectLayout
from parlantish.compiler.longform import LongformLayout, reminder_text
from parlantish.compiler.plan import ARMS, CompiledCheckpoint, Execution, Layout, Plan
from parlantish.core.constraints import Constraint
from parlantish.core.types import ChatMessage
from parlantish.errors import UserError

__all__ = ["LongformTarget", "clear_cache", "compile_plan", "explain_tiers", "validate_messages"]

LongformTarget = Literal["structural_tag", "grammar"]
DEFAULT_REPLY_CHARS = 1200
#: Arms that compile the blueprint's own layout (checkpoints and reminders).
BLUEPRINT_ARMS = ("blueprint", "stepwise", "repair", "remind", "enforced")
#: Resamples per failing segment for the ``repair`` arm when the blueprint sets none.
DEFAULT_REPAIR_ATTEMPTS = 2
CACHE_SIZE = 512

_FORMAT_NOTES = {
    "arq": (
        "Answer with one JSON object. First go through each checkpoint in order: restate the "
        "listed instructions word for word, restate the question, and answer it. Then write your "
        'reply to the user in "reply", following every instruction.'
    ),
    "longform": (
        "Before replying, go through each checkpoint in order: restate the listed instructions, "
        "restate the question, and answer it on one line. Then write your reply after [Reply]. "
        "Reminders of your instructions appear between parts of the reply: keep following them."
    ),
    "cot": (
        "Think step by step about how to follow every instruction first, then write your reply."
    ),
}


@dataclass(frozen=True)
class _Compiled:
    system: str
    layout: Layout
    constraint: Constraint | None
    checkpoints: tuple[CompiledCheckpoint, ...]
    enforcement: Enforcement


_cache: OrderedDict[tuple[Any, ...], _Compiled] = OrderedDict()
_cache_lock = threading.Lock()


def clear_cache() -> None:
    """Forget every cached compilation (for benchmarks measuring a first compile)."""
    with _cache_lock:
        _cache.clear()
    clear_template_cache()


def validate_messages(
    messages: Iterable[ChatMessage | Mapping[str, Any]],
) -> tuple[ChatMessage, ...]:
    """The conversation as ``ChatMessage``s; anything not in OpenAI chat format is a ``UserError``
    naming the message and field."""
    result = []
    for index, message in enumerate(messages):
        if isinstance(message, ChatMessage):
            result.append(message)
            continue
        try:
            result.append(ChatMessage.model_validate(message))
        except ValidationError as e:
            detail = "; ".join(
                f"{'.'.join(map(str, err['loc'])) or 'message'}: {err['msg']}" for err in e.errors()
            )
            raise UserError(
                f"messages[{index}] is not an OpenAI chat message: {detail}",
                hint='each message is {"role": "user"|"assistant"|"system"|"tool", '
                '"content": "..."}',
            ) from e
    return tuple(result)


def _instructions(blueprint: Blueprint, variables: dict[str, Any]) -> dict[str, str]:
    return {
        name: render_template(text, variables, blueprint.locate("instructions", name)).strip()
        for name, text in blueprint.spec.instructions.items()
    }


def _system_prompt(
    blueprint: Blueprint, variables: dict[str, Any], instructions: dict[str, str]
) -> str:
    """The system prompt every arm shares: the author's template, and the instructions unless
    the template places them itself (by using ``instructions``)."""
    template = blueprint.spec.system or ""
    text = render_template(
        template, {**variables, "instructions": instructions}, blueprint.locate("system")
    ).strip()
    if instructions and "instructions" not in template:
        listed = "\n".join(f"- {line}" for line in instructions.values())
        text = f"{text}\n\nFollow these instructions:\n{listed}".strip()
    return text


def _reply_schema(blueprint: Blueprint) -> dict[str, Any]:
    reply = blueprint.spec.reply
    if reply.type == "object":
        return answer_json_schema(AnswerSpec(type="object", properties=reply.properties))
    schema: dict[str, Any] = {
        "type": "string",
        "maxLength": reply.max_length or DEFAULT_REPLY_CHARS,
    }
    if reply.min_length is not None:
        schema["minLength"] = reply.min_length
    return schema


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` with every object closed (``additionalProperties: false``), as the
    guidance backend needs; pydantic's schemas leave objects open."""

    def close(node: Any) -> Any:
        if isinstance(node, dict):
            node = {key: close(value) for key, value in node.items()}
            if node.get("type") == "object" and "additionalProperties" not in node:
                node["additionalProperties"] = False
            return node
        if isinstance(node, list):
            return [close(item) for item in node]
        return node

    return close(schema)  # type: ignore[no-any-return]


def _segment_groups(blueprint: Blueprint) -> tuple[tuple[int, ...], int]:
    """Token budgets of the reply's blocks between reminders, and how many are required."""
    segments = blueprint.spec.segments
    assert segments is not None
    count = segments.count
    low, high = (count, count) if isinstance(count, int) else (count.min, count.max)
    every = segments.every if segments.recall else high
    starts = list(range(0, high, every))
    groups = tuple(min(every, high - s) * segments.max_tokens for s in starts)
    required = sum(1 for s in starts if s < low)
    return groups, max(1, required)


def _enforcement(
    blueprint: Blueprint,
    arm: str,
    target: LongformTarget,
    typed_reply: bool,
    checks: list[Check],
    mode: EnforceMode | None,
) -> Enforcement:
    """The checks this arm's constraint enforces. ``remind`` enforces none; ``enforced``
    defaults to ``auto``; the other arms to ``mode`` (a Guard call's choice), else the
    blueprint's ``enforce``, else off, so they compile as they did before enforcement."""
    if arm == "remind":
        off = [replace(check, enforce=False) for check in checks]
        return plan_enforcement(off, False)
    default: EnforceMode = "auto" if arm == "enforced" else False
    if mode is not None:
        default = mode
    elif blueprint.spec.enforce is not None and arm != "enforced":
        default = blueprint.spec.enforce
    note: str | None = None
    if typed_reply:
        note = "the reply is a JSON object"
    elif arm == "cot":
        note = "the cot arm's reply is not compiled"
    elif arm in BLUEPRINT_ARMS:
        note = reply_enforce_note(blueprint)
    if note is None and target == "grammar":
        note = "the Lark target has no excluded strings (use the structural-tag target)"
    return plan_enforcement(
        checks,
        default,
        layout_note=note,
        where=lambda i: str(blueprint.locate("checks", i)),
        strict=arm in BLUEPRINT_ARMS,
    )


def explain_tiers(
    blueprint: Blueprint, arm: str = "blueprint", enforce: EnforceMode | None = None
) -> list[tuple[str, str, str]]:
    """``(check, tier, why)`` for each of the blueprint's checks under ``arm``, without
    compiling a plan (no variables needed). Raises ``EnforceError`` as ``compile_plan`` would."""
    spec = blueprint.spec
    checks = build_checks(spec.checks)
    enforcement = _enforcement(
        blueprint, arm, "structural_tag", spec.reply.type == "object", checks, enforce
    )
    stepwise = spec.segments is not None and (
        arm in ("stepwise", "repair") or spec.execution == "stepwise"
    )
    repairs = arm == "repair" or (stepwise and spec.repair is not None and arm != "stepwise")
    rows = []
    for check, decision in zip(checks, enforcement.decisions, strict=True):
        if decision.enforced:
            rows.append((check.name, "enforced", decision.why))
        elif repairs and check.locatable:
            rows.append((check.name, "repaired", f"{decision.why}; failing segments resampled"))
        elif arm in BLUEPRINT_ARMS:
            rows.append((check.name, "reminded", decision.why))
        else:
            rows.append((check.name, "none", decision.why))
    return rows


def _compile(
    blueprint: Blueprint,
    variables: dict[str, Any],
    arm: str,
    target: LongformTarget,
    reply_override: dict[str, Any] | None,
    checks: list[Check] | None = None,
    enforce: EnforceMode | None = None,
) -> _Compiled:
    spec = blueprint.spec
    instructions = _instructions(blueprint, variables)
    system = _system_prompt(blueprint, variables, instructions)
    context = {**variables, "instructions": instructions}
    checkpoints = tuple(
        CompiledCheckpoint(
            id=c.id,
            recall=tuple((name, instructions[name]) for name in c.recall),
            ask=render_template(
                c.ask, context, blueprint.locate("checkpoints", c.id, "ask")
            ).strip(),
            answer_schema=answer_json_schema(c.answer),
        )
        for c in spec.checkpoints
    )
    reply_recall = tuple((name, instructions[name]) for name in spec.reply.recall)
    reply_schema = reply_override or _reply_schema(blueprint)
    typed_reply = spec.reply.type == "object" or reply_override is not None
    if checks is None:
        checks = build_checks(spec.checks)
    enforcement = _enforcement(blueprint, arm, target, typed_reply, checks, enforce)
    rule = None if enforcement.rule.empty else enforcement.rule
    layout: Layout
    if spec.segments is not None:
        groups, required = _segment_groups(blueprint)
        budget = sum(groups)
        if arm in BLUEPRINT_ARMS:
            reminder = (
                reminder_text([instructions[name] for name in spec.segments.recall])
                if spec.segments.recall
                else "\n\n"
            )
            layout = LongformLayout(
                checkpoints,
                reply_recall,
                reminder,
                groups,
                required,
                target,
                segment_min_tokens=spec.segments.sentence_min_tokens,
                segment_tokens=spec.segments.max_tokens,
                rule=rule,
                progress=spec.segments.progress,
                progress_at=blueprint.locate("segments", "progress"),
                progress_variables=json.dumps(variables, sort_keys=True, default=str),
            )
        elif arm == "cot":
            layout = CotTextLayout(budget, target)
        else:
            layout = DirectLayout(None, budget, rule=rule, target=target)
    else:
        budget = reply_schema.get("maxLength", DEFAULT_REPLY_CHARS) + 64
        if arm in BLUEPRINT_ARMS:
            layout = ArqLayout(checkpoints, reply_recall, reply_schema)
        elif arm == "cot":
            layout = CotJsonLayout(reply_schema, budget)
        else:
            layout = DirectLayout(
                reply_schema if typed_reply else None, budget, rule=rule, target=target
            )
    note = _FORMAT_NOTES.get(layout.mode)
    if note is None and typed_reply:
        note = "Answer with one JSON object."
    full_system = f"{system}\n\n{note}".strip() if note else system
    return _Compiled(
        full_system,
        layout,
        layout.constraint(),
        checkpoints if arm in BLUEPRINT_ARMS else (),
        enforcement,
    )


def compile_plan(
    blueprint: Blueprint,
    variables: Mapping[str, Any] | None = None,
    messages: Iterable[ChatMessage | Mapping[str, Any]] = (),
    *,
    arm: str = "blueprint",
    target: LongformTarget = "structural_tag",
    reply_schema: dict[str, Any] | None = None,
    execution: Execution = "fused",
    repair_attempts: int | None = None,
    checks: list[Check] | None = None,
    enforce: EnforceMode | None = None,
) -> Plan:
    """Compile a blueprint for one call.

    ``arm`` is ``blueprint`` (checkpoints forced), ``direct`` or ``cot`` (baselines);
    ``target`` picks the long-form constraint (xgrammar structural tag, or a Lark grammar);
    ``reply_schema`` replaces the blueprint's reply with a JSON schema (e.g. a caller's
    pydantic model: ``Model.model_json_schema()``). ``execution`` applies to long-form plans of
    the ``blueprint`` arm (the ``stepwise`` and ``repair`` arms are always stepwise; other
    layouts are always one request); stepwise plans resample failing segments up to the
    blueprint's ``repair.max_attempts`` (the ``repair`` arm: at least once), or
    ``repair_attempts`` when given. ``checks`` (default: the blueprint's) are the checks the
    constraint may enforce; ``enforce`` overrides the blueprint's ``enforce`` (see
    ``_enforcement``). A check with ``enforce: true`` that cannot compile raises
    ``EnforceError``.
    Raises ``VariablesError``/``UserError`` for bad variables or messages and a located
    ``TemplateRenderError`` when a template fails.
    """
    if arm not in ARMS:
        raise UserError(f"unknown arm {arm!r}", hint=f"use one of {', '.join(ARMS)}")
    conversation = validate_messages(messages)
    values = resolve_variables(blueprint.spec.variables, variables)
    if reply_schema is not None and blueprint.spec.segments is not None:
        raise UserError("a typed reply cannot be combined with long-form segments")
    override = _closed(reply_schema) if reply_schema is not None else None
    key = (
        blueprint.hash,
        json.dumps(values, sort_keys=True, default=str),
        arm,
        target,
        json.dumps(override, sort_keys=True) if override else "",
        repr(enforce),
        json.dumps(
            [[c.describe(), c.label, repr(c.enforce)] for c in checks] if checks is not None else 0,
            sort_keys=True,
            default=str,
        ),
    )
    with _cache_lock:
        compiled = _cache.get(key)
        if compiled is not None:
            _cache.move_to_end(key)
    if compiled is None:
        compiled = _compile(
            blueprint, values, arm, target, override, list(checks) if checks else checks, enforce
        )
        with _cache_lock:
            _cache[key] = compiled
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    leading_system = [m.content for m in conversation[:1] if m.role == "system"]
    system = "\n\n".join([compiled.system, *leading_system]).strip()
    rest = conversation[1:] if leading_system else conversation
    head = (ChatMessage(role="system", content=system),) if system else ()
    stepwise = compiled.layout.mode == "longform" and (
        arm in ("stepwise", "repair") or execution == "stepwise"
    )
    repair = blueprint.spec.repair.max_attempts if blueprint.spec.repair else 0
    if arm == "repair":
        repair = repair or DEFAULT_REPAIR_ATTEMPTS
    elif arm == "stepwise":
        repair = 0
    if repair_attempts is not None:
        repair = repair_attempts
    return Plan(
        arm=arm,
        messages=(*head, *rest),
        layout=compiled.layout,
        constraint=compiled.constraint,
        blueprint_name=blueprint.name,
        blueprint_hash=blueprint.hash,
        checkpoints=compiled.checkpoints,
        execution="stepwise" if stepwise else "fused",
        repair_attempts=repair if stepwise else 0,
        enforcement=compiled.enforcement,
    )
