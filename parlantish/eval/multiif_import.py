"""Reading the public Multi-IF CSV format into multi-turn scenarios.

Columns: ``turn_N_prompt`` (a JSON object ``{"role": "user", "content": …}``; a later turn may be
empty: the conversation has fewer turns), ``turn_N_instruction_id_list`` (a JSON list of IFEval
instruction ids, cumulative: it repeats the earlier turns' instructions that still apply),
``turn_N_kwargs`` (a JSON list of JSON-encoded strings, one per instruction, ``"{}"`` for none),
``key`` and ``language``; other columns (``turns``, ``responses``, ``turn_index``) are not used.
Checks have IFEval's semantics; each turn's list is its own (already cumulative), and the generic
IFEval blueprint recalls that turn's instructions.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parlantish.blueprint import Blueprint, load_blueprint
from parlantish.blueprint.files import FileRefused, read_limited
from parlantish.blueprint.source import Problem
from parlantish.errors import Location, UserError
from parlantish.eval.ifeval_import import GENERIC_BLUEPRINT, InstructionError, instruction_checks
from parlantish.eval.scenario import LoadedScenario, LoadedTurn, SuiteError, messages_hash

__all__ = ["MAX_CSV_BYTES", "BadRow", "is_csv", "load_multiif_scenarios"]

MAX_CSV_BYTES = 256 * 1024 * 1024
MAX_TURNS = 10
_TURN = re.compile(r"^turn_(\d+)_prompt$")


@dataclass(frozen=True)
class BadRow:
    """A row left out with ``skip_bad``: where it is and why."""

    location: Location
    message: str


def is_csv(path: str | Path) -> bool:
    """Whether ``path`` names a CSV file (by its suffix)."""
    return str(path).lower().endswith(".csv")


class _RowError(Exception):
    """One row's problem (its row number is added by the reader)."""


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as e:
        raise _RowError(f"{what} is not JSON: {e}") from e


def _turn(row: dict[str, str], number: int) -> tuple[str, list[Any], list[str]] | None:
    prompt = (row.get(f"turn_{number}_prompt") or "").strip()
    if not prompt:
        return None
    message = _json(prompt, f"turn_{number}_prompt")
    if not isinstance(message, dict) or not isinstance(message.get("content"), str):
        raise _RowError(f'turn_{number}_prompt must be {{"role": "user", "content": "…"}}')
    if message.get("role", "user") != "user":
        raise _RowError(f"turn_{number}_prompt must be a user message")
    ids = _json(row.get(f"turn_{number}_instruction_id_list") or "[]", "instruction ids")
    kwargs = _json(row.get(f"turn_{number}_kwargs") or "[]", "kwargs")
    if not isinstance(ids, list) or not isinstance(kwargs, list):
        raise _RowError(f"turn {number}: instruction ids and kwargs must be JSON lists")
    if len(ids) != len(kwargs):
        raise _RowError(
            f"turn {number}: {len(ids)} instruction ids but {len(kwargs)} kwargs entries"
        )
    return message["content"], ids, kwargs


def _checks(number: int, ids: list[Any], kwargs: list[Any]) -> tuple[list[Any], list[str]]:
    decoded = [
        _json(encoded, f"turn {number} kwargs {index}") if isinstance(encoded, str) else encoded
        for index, encoded in enumerate(kwargs)
    ]
    try:
        return instruction_checks(ids, decoded)
    except InstructionError as e:
        raise _RowError(f"turn {number}, {e}") from e


def _scenario(row: dict[str, str], blueprint: Blueprint, number: int) -> LoadedScenario:
    turns: list[LoadedTurn] = []
    texts: list[str] = []
    present = [n for n in range(1, MAX_TURNS + 1) if (row.get(f"turn_{n}_prompt") or "").strip()]
    if present and present != list(range(1, len(present) + 1)):
        raise _RowError(f"turns {present} leave a gap: a conversation's turns run 1, 2, 3, …")
    for turn in present:
        found = _turn(row, turn)
        assert found is not None
        content, ids, kwargs = found
        checks, rules = _checks(turn, ids, kwargs)
        turns.append(LoadedTurn(content, tuple(checks), (), {"rules": rules}))
        texts.append(content)
    if not turns:
        raise _RowError("the row has no turn_1_prompt")
    key = (row.get("key") or "").strip() or str(number)
    return LoadedScenario(
        id=f"multiif-{key}",
        messages=(),
        variables={"rules": []},
        blueprint=blueprint,
        checks=(),
        messages_hash=messages_hash(texts),
        turns=tuple(turns),
    )


def load_multiif_scenarios(
    path: str | Path, *, skip_bad: bool = False, limit: int | None = None
) -> tuple[list[LoadedScenario], list[BadRow], str]:
    """The conversations of a Multi-IF CSV file (the first ``limit``), the rows left out (with
    ``skip_bad``; else the first bad row is a located ``SuiteError``) and the file's hash."""
    path = Path(path)
    try:
        data = read_limited(path, MAX_CSV_BYTES)
    except FileRefused as e:
        raise UserError(e.message) from e
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}") from e
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SuiteError([Problem(Location(str(path), 1, 1), f"not UTF-8 text: {e}")]) from e
    previous_limit = csv.field_size_limit(MAX_CSV_BYTES)
    try:
        return _read(path, text, data, skip_bad=skip_bad, limit=limit)
    finally:
        csv.field_size_limit(previous_limit)


def _read(
    path: Path, text: str, data: bytes, *, skip_bad: bool, limit: int | None
) -> tuple[list[LoadedScenario], list[BadRow], str]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = reader.fieldnames or []
    turn_columns = [int(m.group(1)) for m in map(_TURN.match, columns) if m]
    missing = [
        f"turn_{n}_{part}"
        for n in turn_columns
        for part in ("instruction_id_list", "kwargs")
        if f"turn_{n}_{part}" not in columns
    ]
    if missing or any(n > MAX_TURNS for n in turn_columns):
        why = f"missing columns {missing}" if missing else f"more than {MAX_TURNS} turns"
        raise SuiteError([Problem(Location(str(path), 1, 1), f"not a usable Multi-IF file: {why}")])
    if not turn_columns:
        raise SuiteError(
            [Problem(Location(str(path), 1, 1), "no turn_1_prompt column: not a Multi-IF CSV file")]
        )
    blueprint = load_blueprint(GENERIC_BLUEPRINT)
    scenarios: list[LoadedScenario] = []
    bad: list[BadRow] = []
    seen: set[str] = set()
    try:
        for row in reader:
            # The line where this row ends (a quoted field may span lines).
            where = Location(str(path), reader.line_num, 1)
            try:
                scenario = _scenario(row, blueprint, reader.line_num)
                if scenario.id in seen:
                    raise _RowError(f"repeated key {scenario.id.removeprefix('multiif-')!r}")
            except _RowError as e:
                if not skip_bad:
                    raise SuiteError(
                        [Problem(where, f"row ending at line {where.line}: {e}")]
                    ) from e
                bad.append(BadRow(where, str(e)))
                continue
            seen.add(scenario.id)
            scenarios.append(scenario)
            if limit is not None and len(scenarios) >= limit:
                break
    except csv.Error as e:
        raise SuiteError([Problem(Location(str(path), reader.line_num, 1), f"bad CSV: {e}")]) from e
    if not scenarios:
        raise SuiteError([Problem(Location(str(path), 1, 1), "the file has no usable row")])
    return scenarios, bad, hashlib.sha256(data).hexdigest()[:16]
