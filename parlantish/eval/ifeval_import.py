"""IFEval-format JSONL → scenarios.

Each line (``key``, ``prompt`` or ``messages``, ``instruction_id_list``, ``kwargs``) becomes one
scenario: the conversation, one IFEval check per instruction (strict; loose is recorded too), and
a generic blueprint (``ifeval-generic.yaml`` beside this module) that recalls the prompt's own
instructions. The instructions it recalls are *derived from the line*, not guessed from the
prose: each instruction id with its kwargs is written as one plain sentence (``RULES`` below),
e.g. ``punctuation:no_comma`` → "Do not use any commas." and ``length_constraints:number_words``
with ``{relation: less than, num_words: 40}`` → "Answer with less than 40 words.".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from parlantish.blueprint import Blueprint, load_blueprint
from parlantish.blueprint.files import MAX_JSONL_BYTES, FileRefused, read_limited
from parlantish.blueprint.model import SegmentsSpec
from parlantish.blueprint.source import Problem
from parlantish.checks import Check, CheckSpecError, build_check
from parlantish.compiler import validate_messages
from parlantish.errors import Location, UserError
from parlantish.eval.scenario import LoadedScenario, SuiteError, messages_hash, with_segments

__all__ = [
    "GENERIC_BLUEPRINT",
    "RULES",
    "InstructionError",
    "instruction_checks",
    "is_jsonl",
    "load_ifeval_scenarios",
    "rule_sentence",
]

GENERIC_BLUEPRINT = Path(__file__).with_name("ifeval-generic.yaml")
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


def _bad_text(value: Any) -> bool:
    """Whether a decoded value holds a NUL or a lone surrogate (an escaped pair decodes whole)."""
    if isinstance(value, str):
        return _BAD_TEXT.search(value) is not None
    if isinstance(value, dict):
        return any(_bad_text(k) or _bad_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_bad_text(v) for v in value)
    return False


def _words(values: Any) -> str:
    return ", ".join(f'"{v}"' for v in values or [])


def _times(kw: dict[str, Any], count: str, relation: str) -> str:
    return f"{kw.get(relation, 'at least')} {kw.get(count)}"


#: One sentence per IFEval instruction id, from its kwargs.
RULES: dict[str, Callable[[dict[str, Any]], str]] = {
    "keywords:existence": lambda k: f"Include the keywords {_words(k.get('keywords'))}.",
    "keywords:frequency": lambda k: (
        f'Use the word "{k.get("keyword")}" {_times(k, "frequency", "relation")} times.'
    ),
    "keywords:forbidden_words": lambda k: (
        f"Do not use the words {_words(k.get('forbidden_words'))}."
    ),
    "keywords:letter_frequency": lambda k: (
        f'Use the letter "{k.get("letter")}" {_times(k, "let_frequency", "let_relation")} times.'
    ),
    "language:response_language": lambda k: (
        f'Write only in the language with ISO code "{k.get("language")}"; no other language.'
    ),
    "change_case:english_capital": lambda k: "Write in English, all in capital letters.",
    "change_case:english_lowercase": lambda k: (
        "Write in English, all in lowercase letters; no capital letters at all."
    ),
    "change_case:capital_word_frequency": lambda k: (
        f"Use {_times(k, 'capital_frequency', 'capital_relation')} words in all capital letters."
    ),
    "length_constraints:number_words": lambda k: (
        f"Answer with {_times(k, 'num_words', 'relation')} words."
    ),
    "length_constraints:number_sentences": lambda k: (
        f"Answer with {_times(k, 'num_sentences', 'relation')} sentences."
    ),
    "length_constraints:number_paragraphs": lambda k: (
        f"Write exactly {k.get('num_paragraphs')} paragraphs separated by the divider ***."
    ),
    "length_constraints:nth_paragraph_first_word": lambda k: (
        f"Write exactly {k.get('num_paragraphs')} paragraphs separated by blank lines; paragraph "
        f'{k.get("nth_paragraph")} starts with the word "{k.get("first_word")}".'
    ),
    "detectable_content:number_placeholders": lambda k: (
        f"Include at least {k.get('num_placeholders')} placeholders in square brackets, "
        "like [name]."
    ),
    "detectable_content:postscript": lambda k: (
        f'End with a postscript starting with "{k.get("postscript_marker")}".'
    ),
    "detectable_format:number_bullet_lists": lambda k: (
        f"Use exactly {k.get('num_bullets')} bullet points, each line starting with '* '."
    ),
    "detectable_format:constrained_response": lambda k: (
        'Answer with exactly one of "My answer is yes.", "My answer is no.", "My answer is maybe.".'
    ),
    "detectable_format:number_highlighted_sections": lambda k: (
        f"Highlight at least {k.get('num_highlights')} sections with asterisks, "
        "like *highlighted section*."
    ),
    "detectable_format:multiple_sections": lambda k: (
        f"Write {k.get('num_sections')} sections, each starting with "
        f'"{k.get("section_spliter")} N" (N = 1, 2, …).'
    ),
    "detectable_format:json_format": lambda k: "Wrap the whole response in JSON.",
    "detectable_format:title": lambda k: "Include a title in double angular brackets: <<title>>.",
    "combination:two_responses": lambda k: (
        "Give two different responses separated by six asterisks: ******."
    ),
    "combination:repeat_prompt": lambda k: (
        "First repeat the request word for word without change, then answer it."
    ),
    "startend:end_checker": lambda k: (
        f'End with the exact phrase "{k.get("end_phrase")}"; nothing may follow it.'
    ),
    "startend:quotation": lambda k: "Wrap the whole response in double quotation marks.",
    "punctuation:no_comma": lambda k: "Do not use any commas.",
}


def rule_sentence(instruction_id: str, kwargs: dict[str, Any]) -> str:
    """The sentence the generic blueprint recalls for one instruction."""
    writer = RULES.get(instruction_id)
    if writer is None:
        raise UserError(f"no rule sentence for IFEval instruction {instruction_id!r}")
    return writer(kwargs)


class InstructionError(ValueError):
    """An IFEval instruction that cannot become a check (the message names which)."""


def instruction_checks(ids: list[Any], kwargs_list: list[Any]) -> tuple[list[Check], list[str]]:
    """IFEval checks for instruction ids and their kwargs (``None`` values dropped, as IFEval's
    evaluation does), and the sentences the generic blueprint recalls for them."""
    checks, rules = [], []
    for index, (instruction_id, kwargs) in enumerate(zip(ids, kwargs_list, strict=True)):
        if not isinstance(instruction_id, str):
            raise InstructionError(f"instruction {index}: the id must be a string")
        if kwargs is not None and not isinstance(kwargs, dict):
            raise InstructionError(
                f"instruction {index} ({instruction_id}): kwargs must be an object"
            )
        params = {k: v for k, v in (kwargs or {}).items() if v is not None}
        try:
            checks.append(build_check({instruction_id: params}))
            rules.append(rule_sentence(instruction_id, params))
        except CheckSpecError as e:
            raise InstructionError(f"instruction {index}: {e}") from e
        except UserError as e:
            raise InstructionError(f"instruction {index}: {e.message}") from e
    return checks, rules


def is_jsonl(path: str | Path) -> bool:
    """Whether ``path`` names a JSONL file (by its suffix)."""
    return str(path).endswith((".jsonl", ".jsonl.gz"))


def _problem(path: Path, line: int, message: str) -> UserError:
    return SuiteError([Problem(Location(str(path), line, 1), message)])


def _scenario_from_line(
    path: Path,
    number: int,
    record: Any,
    blueprint: Blueprint,
    extra_checks: Sequence[Check],
) -> LoadedScenario:
    if not isinstance(record, dict):
        raise _problem(path, number, "each line must be a JSON object")
    ids = record.get("instruction_id_list")
    kwargs_list = record.get("kwargs") or [{} for _ in (ids if isinstance(ids, list) else [])]
    if (
        not isinstance(ids, list)
        or not isinstance(kwargs_list, list)
        or len(ids) != len(kwargs_list)
    ):
        raise _problem(
            path, number, '"instruction_id_list" and "kwargs" must be lists of the same length'
        )
    if "messages" in record:
        messages = record["messages"]
    elif isinstance(record.get("prompt"), str):
        messages = [{"role": "user", "content": record["prompt"]}]
    else:
        raise _problem(path, number, 'each line needs "prompt" (text) or "messages"')
    if not isinstance(messages, list) or not messages:
        raise _problem(path, number, '"messages" must be a non-empty list of chat messages')
    try:
        validate_messages(messages)
    except UserError as e:
        raise _problem(path, number, e.message) from e
    try:
        checks, rules = instruction_checks(ids, kwargs_list)
    except InstructionError as e:
        raise _problem(path, number, str(e)) from e
    key = record.get("key", number)
    if not isinstance(key, (str, int)) or isinstance(key, bool):
        raise _problem(path, number, '"key" must be a string or an integer')
    return LoadedScenario(
        id=f"ifeval-{key}",
        messages=tuple(messages),
        variables={"rules": rules},
        blueprint=blueprint,
        checks=(*extra_checks, *checks),
        messages_hash=messages_hash(messages),
    )


@lru_cache(maxsize=1)
def _generic_blueprint() -> Blueprint:
    return load_blueprint(GENERIC_BLUEPRINT)  # package data: loaded once per process


def load_ifeval_scenarios(
    path: str | Path,
    *,
    extra_checks: Sequence[Check] = (),
    segments: SegmentsSpec | None = None,
    blueprint: Blueprint | None = None,
    where: Location | None = None,
) -> list[LoadedScenario]:
    """Scenarios from an IFEval-format JSONL file; a bad line is a located ``SuiteError``."""
    path = Path(path)
    try:
        raw = read_limited(path, MAX_JSONL_BYTES)
    except FileRefused as e:
        raise UserError(e.message, location=where) from e
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}", location=where) from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _problem(path, raw[: e.start].count(b"\n") + 1, "not UTF-8 text") from e
    chosen = blueprint or _generic_blueprint()
    if segments is not None:
        chosen = with_segments(chosen, segments)
    scenarios = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise _problem(path, number, f"not JSON: {e.msg} (column {e.colno})") from e
        except (RecursionError, ValueError) as e:  # nesting too deep, a number too long
            raise _problem(path, number, f"not usable JSON: {type(e).__name__}") from e
        try:
            bad = _bad_text(record)
        except RecursionError:
            bad = True
        if bad:
            raise _problem(
                path,
                number,
                "the line contains a NUL character, a lone surrogate or nesting too deep",
            )
        scenarios.append(_scenario_from_line(path, number, record, chosen, extra_checks))
    if not scenarios:
        raise _problem(path, 1, "the file has no records")
    return scenarios
