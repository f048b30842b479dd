"""Counting words and sentences and detecting languages, with IFEval's definitions.

- Words: maximal runs of ``\\w`` characters (the reference uses NLTK's ``RegexpTokenizer(r"\\w+")``,
  which is exactly ``re.findall(r"\\w+", text)``).
- Sentences: NLTK's Punkt English model (the reference loads ``tokenizers/punkt/english``; the
  same parameters ship as ``punkt_tab``, read here from the ``llama-index-core`` wheel, installed
  without dependencies: no download at run time).
- Word tokens for capital-word counts: ``nltk.word_tokenize``, as in the reference.
- Language: ``langdetect`` with ``DetectorFactory.seed = 0`` so the verdict is the same every run.
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
from functools import lru_cache
from typing import Any

from parlantish.errors import UserError

__all__ = ["count_sentences", "count_words", "detect_language", "nltk_data_dir", "word_tokens"]

DATA_WHEEL = "llama-index-core==0.14.25"
DATA_HINT = f"pip install --no-deps {DATA_WHEEL}  (or run: make setup)"
_WORD = re.compile(r"\w+")
_lock = threading.Lock()


def count_words(text: str) -> int:
    """IFEval's word count."""
    return len(_WORD.findall(text))


def nltk_data_dir() -> str | None:
    """Where the vendored NLTK data (Punkt English) is, found without importing its package."""
    spec = importlib.util.find_spec("llama_index")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = os.path.join(location, "core", "_static", "nltk_cache")
        if os.path.isdir(os.path.join(candidate, "tokenizers", "punkt_tab", "english")):
            return candidate
    return None


@lru_cache(maxsize=1)
def _nltk() -> Any:
    data = nltk_data_dir()
    if data is None:
        raise UserError(
            "sentence counting needs NLTK's Punkt English data, which is not installed",
            hint=DATA_HINT,
        )
    import nltk

    if data not in nltk.data.path:
        nltk.data.path.insert(0, data)
    return nltk


@lru_cache(maxsize=1)
def _sentence_tokenizer() -> Any:
    from nltk.tokenize import PunktTokenizer

    _nltk()
    return PunktTokenizer("english")


def count_sentences(text: str) -> int:
    """IFEval's sentence count (Punkt, English)."""
    with _lock:
        tokenizer = _sentence_tokenizer()
    return len(tokenizer.tokenize(text))


def word_tokens(text: str) -> list[str]:
    """``nltk.word_tokenize`` (Treebank words within Punkt sentences)."""
    nltk = _nltk()
    with _lock:
        _sentence_tokenizer()
    return list(nltk.word_tokenize(text))


@lru_cache(maxsize=1)
def _langdetect() -> Any:
    import langdetect
    from langdetect import DetectorFactory

    DetectorFactory.seed = 0
    return langdetect


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or ``None`` when it cannot be told (no letters)."""
    langdetect = _langdetect()
    from langdetect.lang_detect_exception import LangDetectException

    with _lock:  # the detector factory is global state
        try:
            return str(langdetect.detect(text))
        except LangDetectException:
            return None
