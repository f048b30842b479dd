"""Loading blueprint files: parse with positions, validate, resolve ``extends``, check meaning.

``lint_file`` returns every problem found; ``load_blueprint`` raises ``BlueprintError`` carrying
them. Nothing here raises anything else for a user's file, whatever its bytes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from parlantish.blueprint.files import FileRefused, default_roots, resolve_reference
from parlantish.blueprint.model import BlueprintFile
from parlantish.blueprint.schema import pydantic_problems, schema_problems
from parlantish.blueprint.semantics import semantic_problems
from parlantish.blueprint.source import Problem, SourceDocument, parse_source, read_source
from parlantish.errors import Location, UserError

__all__ = ["Blueprint", "BlueprintError", "lint_file", "load_blueprint", "load_blueprint_text"]

MAX_EXTENDS_DEPTH = 16


class BlueprintError(UserError):
    """A blueprint file has problems; ``problems`` lists each one with its location."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            first.message + more,
            location=first.location,
            hint="run `parlantish lint FILE` to see every problem",
        )


@dataclass(frozen=True)
class Blueprint:
    """A loaded blueprint: the merged ``spec`` (``extends`` resolved), where each part came
    from (for locating template errors), and a content ``hash``."""

    spec: BlueprintFile
    path: str
    locations: dict[tuple[Any, ...], Location] = field(default_factory=dict, compare=False)
    hash: str = ""

    @property
    def name(self) -> str:
        return self.spec.blueprint

    def locate(self, *path: Any) -> Location:
        """Where a part of the blueprint was written (falls back to the file itself)."""
        probe = tuple(path)
        while probe:
            if probe in self.locations:
                return self.locations[probe]
            probe = probe[:-1]
        return Location(self.path)

    @classmethod
    def from_file(cls, path: str | Path) -> Blueprint:
        """Load and validate a blueprint file (raises ``BlueprintError``)."""
        return load_blueprint(path)


def _content_hash(spec: BlueprintFile) -> str:
    data = spec.model_dump(mode="json", by_alias=True, exclude={"schema_ref", "extends"})
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _template_locations(
    doc: SourceDocument, spec: BlueprintFile
) -> dict[tuple[Any, ...], Location]:
    """Where each addressable part of one file starts."""
    where: dict[tuple[Any, ...], Location] = {(): doc.locate(())}
    for key in ("system", "reply", "segments", "extends", "variables", "instructions", "on_fail"):
        where[(key,)] = doc.locate((key,))
    for name in spec.instructions:
        where[("instructions", name)] = doc.locate(("instructions", name))
    for name in spec.variables:
        where[("variables", name)] = doc.locate(("variables", name))
    for index, checkpoint in enumerate(spec.checkpoints):
        for part in ("ask", "recall", "answer", "id"):
            where[("checkpoints", checkpoint.id, part)] = doc.locate(("checkpoints", index, part))
        where[("checkpoints", checkpoint.id)] = doc.locate(("checkpoints", index))
    for index in range(len(spec.checks)):
        where[("checks", index)] = doc.locate(("checks", index))
    return where


def _shift_checks(
    locations: dict[tuple[Any, ...], Location], offset: int
) -> dict[tuple[Any, ...], Location]:
    """The child's checks come after the base's in the merged list: renumber their places."""
    return {
        (("checks", key[1] + offset) if len(key) == 2 and key[0] == "checks" else key): where
        for key, where in locations.items()
    }


def _looks_like_blueprint(doc: SourceDocument) -> bool:
    return isinstance(doc.data, dict) and isinstance(doc.data.get("blueprint"), str)


def _merge(base: BlueprintFile, child: BlueprintFile) -> BlueprintFile:
    """``child`` on top of ``base``: maps merge by key, checkpoints by id, checks append,
    everything else is the child's when it sets it."""
    given = child.model_fields_set
    checkpoints = list(base.checkpoints)
    positions = {c.id: i for i, c in enumerate(checkpoints)}
    for checkpoint in child.checkpoints:
        if checkpoint.id in positions:
            checkpoints[positions[checkpoint.id]] = checkpoint
        else:
            checkpoints.append(checkpoint)
    merged: dict[str, Any] = {
        "blueprint": child.blueprint,
        "variables": {**base.variables, **child.variables},
        "instructions": {**base.instructions, **child.instructions},
        "checkpoints": checkpoints,
        "checks": [*base.checks, *child.checks],
    }
    inherited = ("version", "description", "system", "reply", "segments", "on_fail")
    for name in (*inherited, "execution", "repair"):
        merged[name] = getattr(child if name in given else base, name)
    return BlueprintFile.model_validate(merged)


def _load_spec(
    doc: SourceDocument, chain: tuple[str, ...], roots: tuple[Path, ...]
) -> tuple[BlueprintFile | None, dict[tuple[Any, ...], Location], list[Problem]]:
    problems = schema_problems(doc)
    if problems:
        return None, {}, problems
    try:
        spec = BlueprintFile.model_validate(doc.data)
    except ValidationError as e:
        return None, {}, pydantic_problems(doc, e)
    locations = _template_locations(doc, spec)
    fallback = spec.on_fail.fallback if spec.on_fail else None
    if fallback is not None and fallback.endswith((".yaml", ".yml", ".json")):
        try:
            resolve_reference(fallback, doc.path, roots)
        except FileRefused as e:
            where = doc.locate(("on_fail", "fallback"))
            return None, {}, [Problem(where, f"on_fail.fallback: {e.message} ({e.hint})")]
    if spec.extends is None:
        return spec, locations, []
    extends_at = doc.locate(("extends",))
    try:
        base_path = resolve_reference(spec.extends, doc.path, roots)
    except FileRefused as e:
        return None, {}, [Problem(extends_at, f"cannot extend: {e.message} ({e.hint})")]
    if str(base_path) in chain:
        return None, {}, [Problem(extends_at, f"extends forms a cycle: {spec.extends}")]
    if len(chain) >= MAX_EXTENDS_DEPTH:
        return None, {}, [Problem(extends_at, f"extends is nested deeper than {MAX_EXTENDS_DEPTH}")]
    base_doc, base_problems = read_source(base_path)
    if base_doc is None:
        # Only the reason, never the target's text: it may be any file.
        reason = base_problems[0].message if base_problems else "unreadable"
        return None, {}, [Problem(extends_at, f"cannot extend {spec.extends}: {reason}")]
    if not _looks_like_blueprint(base_doc):
        return (
            None,
            {},
            [
                Problem(
                    extends_at,
                    f"cannot extend {spec.extends}: not a blueprint file "
                    "(no `blueprint:` name at its top)",
                )
            ],
        )
    base, base_locations, base_problems = _load_spec(base_doc, (*chain, str(base_path)), roots)
    if base is None:
        return (
            None,
            {},
            [
                Problem(extends_at, f"the base blueprint {spec.extends} has problems"),
                *base_problems,
            ],
        )
    locations = _shift_checks(locations, len(base.checks))
    return _merge(base, spec), {**base_locations, **locations}, []


def _load(
    doc: SourceDocument, roots: tuple[Path, ...] | None = None
) -> tuple[Blueprint | None, list[Problem]]:
    if roots is None:
        roots = default_roots(doc.path)
    spec, locations, problems = _load_spec(doc, (str(Path(doc.path).resolve()),), roots)
    if spec is None:
        return None, problems
    blueprint = Blueprint(spec=spec, path=doc.path, locations=locations, hash=_content_hash(spec))
    problems = sorted(semantic_problems(blueprint), key=Problem.sort_key)
    return (None if problems else blueprint), problems


def lint_file(path: str | Path) -> list[Problem]:
    """Every problem in a blueprint file (empty when it is valid)."""
    doc, problems = read_source(path)
    if doc is None:
        return problems
    return _load(doc)[1]


def _load_or_raise(
    doc: SourceDocument | None, problems: list[Problem], roots: tuple[Path, ...] | None = None
) -> Blueprint:
    blueprint = None
    if doc is not None:
        blueprint, problems = _load(doc, roots)
    if blueprint is None:
        raise BlueprintError(problems)
    return blueprint


def load_blueprint(path: str | Path, *, roots: tuple[Path, ...] | None = None) -> Blueprint:
    """Load a blueprint file, raising ``BlueprintError`` with every problem if it is invalid.

    ``roots`` are the folders its ``extends`` may read from (default: ``default_roots`` of
    this file); a file referenced from another one passes the roots of that one."""
    return _load_or_raise(*read_source(path), roots)


def load_blueprint_text(text: str, path: str = "<blueprint>") -> Blueprint:
    """Load a blueprint from a string (``extends`` resolves relative to ``path``'s folder)."""
    return _load_or_raise(*parse_source(text, path))
