"""Whether an output folder holds this run's results, and starting it over (``--force-new``).

A folder holds one run. Resuming is only sound when what is saved there was produced by the same
run: the same suite and settings (seed, sampling, swept lengths, windows), each saved sample
compiled to the same request, and no saved sample outside the run (a report would count it). Any
difference is refused before anything is generated, naming the first one and how many there are;
``--force-new`` moves the old files into ``OUT/previous-<UTC time>/`` (nothing is deleted) and
starts the folder afresh.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePath
from typing import Any, Protocol

from parlantish.errors import UserError
from parlantish.eval.manifest import MANIFEST_FILE
from parlantish.eval.store import RESULTS_FILE, read_results

__all__ = [
    "RUN_FILES",
    "FolderConflict",
    "check_output_folder",
    "folder_conflicts",
    "start_over",
]

#: What a run writes into its folder (besides the lock): moved aside as a whole by ``start_over``.
RUN_FILES = (RESULTS_FILE, MANIFEST_FILE, "report.json", "report.html", "junit.xml")

#: The manifest's fields that decide what a saved sample means; a difference in any is refused.
#: ``model`` (the model folder's or served model's name) is compared once both runs know it: the
#: command line checks before any model loads, the runner again once its backend has started.
IDENTITY_FIELDS = ("suite_name", "model", "seed", "sampling", "lengths", "window_tokens")


class PlannedItem(Protocol):
    """What the check needs of a planned sample (``eval.runner.WorkItem`` has it)."""

    @property
    def record_keys(self) -> list[str]: ...

    @property
    def plan(self) -> Any: ...

    @property
    def scenario(self) -> Any: ...


@dataclass(frozen=True)
class FolderConflict:
    """One kind of difference between a folder's saved results and this run."""

    what: str  # e.g. "settings", "compiled requests", "samples outside this run"
    first: str  # the first instance, in words
    count: int


def run_identity(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The identity fields of a manifest (``run.json`` as written, or about to be), normalised
    through JSON so that a tuple and the list it was saved as compare equal."""
    suite = manifest.get("suite")
    model = manifest.get("model")
    values = {
        "suite_name": suite.get("name") if isinstance(suite, Mapping) else None,
        # An embedded model's folder lies under each user's PARLANTISH_HOME: its name is its id.
        "model": PurePath(model).name if isinstance(model, str) and model else None,
        **{name: manifest.get(name) for name in IDENTITY_FIELDS[2:]},
    }
    normalised: dict[str, Any] = json.loads(json.dumps(values, default=str))
    return normalised


def _differences(saved: Any, current: Any, path: str) -> list[str]:
    if isinstance(saved, dict) and isinstance(current, dict):
        found = []
        for name in sorted(set(saved) | set(current)):
            found += _differences(saved.get(name), current.get(name), f"{path}.{name}")
        return found
    if saved != current:
        return [f"{path.lstrip('.')}: {json.dumps(saved)} saved, {json.dumps(current)} now"]
    return []


def folder_conflicts(
    out: str | Path, items: Sequence[PlannedItem], identity: Mapping[str, Any]
) -> list[FolderConflict]:
    """How OUT's saved results differ from the run planned as ``items`` with ``identity``
    (``run_identity`` of its manifest): an empty list when resuming is sound."""
    out = Path(out)
    records = read_results(out / RESULTS_FILE)
    if not records:
        return []
    conflicts = []
    manifest = _read_manifest(out / MANIFEST_FILE)
    if manifest is not None:
        saved, current = run_identity(manifest), run_identity(identity)
        if saved["model"] is None or current["model"] is None:  # not known on both sides yet
            saved.pop("model"), current.pop("model")
        changed = _differences(saved, current, "")
        if changed:
            conflicts.append(FolderConflict("settings", changed[0], len(changed)))
    first_keys = {item.record_keys[0]: item for item in items}
    later_keys = {key: item for item in items for key in item.record_keys[1:]}
    recompiled: list[str] = []
    outside: list[str] = []
    for record in records:
        key = record["key"]
        item, later = first_keys.get(key), later_keys.get(key)
        if item is None and later is None:
            outside.append(key)
        elif (item is not None and record.get("plan_key") != item.plan.key) or (
            later is not None and record.get("messages_hash") != later.scenario.messages_hash
        ):
            recompiled.append(key)
    if recompiled:
        conflicts.append(
            FolderConflict(
                "compiled requests",
                f"sample {recompiled[0]!r} was compiled from another suite or blueprint",
                len(recompiled),
            )
        )
    if outside:
        conflicts.append(
            FolderConflict(
                "samples outside this run",
                f"sample {outside[0]!r} is not one of this run's (other scenarios, arms, "
                "samples or --limit)",
                len(outside),
            )
        )
    return conflicts


def check_output_folder(
    out: str | Path,
    items: Sequence[PlannedItem],
    identity: Mapping[str, Any],
    *,
    force_new: bool,
) -> None:
    """Refuse (a ``UserError``) to resume into a folder holding another run's results, unless
    ``force_new``; with ``force_new`` such a folder's files are moved aside by ``start_over``,
    and so are files that cannot be read at all (a broken run.json or results line)."""
    try:
        conflicts = folder_conflicts(out, items, identity)
    except UserError:
        if not force_new:
            raise
        start_over(out)
        return
    if not conflicts:
        return
    if force_new:
        start_over(out)
        return
    lines = [f"{c.what} ({c.count}): {c.first}" for c in conflicts]
    raise UserError(
        f"{Path(out) / RESULTS_FILE} holds results of another run:\n  " + "\n  ".join(lines),
        hint="use another --out folder, or --force-new to start over "
        "(the old files are moved to OUT/previous-<time>/, nothing is deleted)",
    )


def start_over(out: str | Path) -> Path | None:
    """Move a run's files out of OUT into a new ``OUT/previous-<UTC time>/`` folder; returns it
    (None when there was nothing to move)."""
    out = Path(out)
    present = [out / name for name in RUN_FILES if (out / name).exists()]
    if not present:
        return None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    aside = out / f"previous-{stamp}"
    aside.mkdir()
    for path in present:
        path.rename(aside / path.name)
    return aside


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise UserError(
            f"cannot read {path}: {e}",
            hint="run.json is written by `parlantish eval`; use --force-new to start over",
        ) from e
    return data if isinstance(data, dict) else None
