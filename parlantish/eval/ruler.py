"""Measuring positions in outputs in tokens, and cutting outputs into units.

Every arm's output is measured with the same ruler so that "the first n tokens" means the same
thing for all of them: the tokenizer of the engine's model when the backend is an in-process
engine, else the embedded model's tokenizer when it is provisioned, else (no tokenizer at hand)
``\\w+|[^\\w\\s]`` pieces, with the unit named ``pieces`` in reports.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["TokenRuler", "UnitCut", "cut_units"]

_PIECES = re.compile(r"\w+|[^\w\s]")


class TokenRuler:
    """Token end offsets of a text."""

    def __init__(self, tokenizer: Any = None, name: str = "pieces"):
        self._tokenizer = tokenizer
        self.name = name

    @classmethod
    def for_backend(cls, backend: Any) -> TokenRuler:
        """The best ruler for a backend (see the module docstring)."""
        folder = None
        model = getattr(backend, "model", None)
        if isinstance(model, str) and Path(model).is_dir():
            folder = Path(model)
        else:
            from parlantish.backends.embedded import model_folder

            candidate = model_folder()
            folder = candidate if (candidate / "config.json").exists() else None
        if folder is None:
            return cls()
        try:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        except Exception:  # a folder without a usable fast tokenizer: fall back to pieces
            return cls()
        if not getattr(tokenizer, "is_fast", False):
            return cls()
        return cls(tokenizer, f"tokens ({folder.name})")

    def ends(self, text: str) -> list[int]:
        """The character offset where each token ends, in order."""
        if not text:
            return []
        if self._tokenizer is None:
            return [m.end() for m in _PIECES.finditer(text)]
        encoded = self._tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ends = [end for _, end in encoded["offset_mapping"]]
        return sorted(set(ends))


@dataclass(frozen=True)
class UnitCut:
    """An output cut into units: character boundaries (unit ends) and tokens per unit."""

    kind: str  # "segments" or "windows"
    boundaries: tuple[int, ...]
    unit_tokens: tuple[int, ...]


def cut_units(
    text: str, ruler: TokenRuler, *, window: int, segments: Sequence[str] | None = None
) -> UnitCut:
    """Cut ``text`` into ``segments`` (long-form outputs: the visible text is the segments joined
    by line breaks) or into windows of ``window`` tokens."""
    token_ends = ruler.ends(text)
    if segments is not None and len(segments) > 0:
        boundaries, position = [], 0
        for index, segment in enumerate(segments):
            position += len(segment) + (1 if index else 0)
            boundaries.append(min(position, len(text)))
        kind = "segments"
    else:
        boundaries = [token_ends[i - 1] for i in range(window, len(token_ends) + 1, window)]
        if not boundaries or boundaries[-1] < len(text):
            boundaries.append(len(text))
        kind = "windows"
    counts, previous = [], 0
    for boundary in boundaries:
        upto = bisect.bisect_right(token_ends, boundary)
        counts.append(upto - previous)
        previous = upto
    return UnitCut(kind, tuple(boundaries), tuple(counts))
