"""Where parlantish keeps its files, and the environment vLLM and torch need before they load.

Everything lives under ``PARLANTISH_HOME`` (default: the per-user cache dir): the converted
embedded model, vLLM's and torch's compile caches, vLLM's IPC sockets and the engine logs, so
nothing lands in ``~/.cache/vllm`` or ``/tmp``.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = ["configure_engine_environment", "engine_cache_dirs", "home", "logs_dir", "models_dir"]


def home() -> Path:
    """The parlantish home directory (``$PARLANTISH_HOME`` or the per-user cache dir)."""
    configured = os.environ.get("PARLANTISH_HOME")
    base = (
        Path(configured).expanduser()
        if configured
        else Path(platformdirs.user_cache_dir("parlantish", appauthor=False))
    )
    return base.resolve()


def models_dir() -> Path:
    """Where converted models are kept."""
    return home() / "models"


def logs_dir() -> Path:
    """Where engine and server logs are written."""
    return home() / "logs"


def engine_cache_dirs() -> dict[str, Path]:
    """The cache folders handed to vLLM and torch, by environment variable."""
    root = home() / "cache"
    return {
        "VLLM_CACHE_ROOT": root / "vllm",
        "TORCHINDUCTOR_CACHE_DIR": root / "torchinductor",
        "TRITON_CACHE_DIR": root / "triton",
        "VLLM_RPC_BASE_PATH": root / "rpc",
    }


# Settings vLLM needs on a CPU-only machine (see the README's "vLLM on CPU" section); a value the
# user already set in the environment wins.
_ENGINE_DEFAULTS = {
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "VLLM_USE_AOT_COMPILE": "0",
    "VLLM_NO_USAGE_STATS": "1",
    "VLLM_DO_NOT_TRACK": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    # vLLM logs to stdout by default, which would mix with what the CLI prints.
    "VLLM_LOGGING_STREAM": "ext://sys.stderr",
}


def configure_engine_environment() -> None:
    """Point vLLM's and torch's caches into ``PARLANTISH_HOME`` and set CPU-friendly defaults.

    Must run before ``vllm`` is imported (it reads the environment at import and in workers).
    """
    for name, path in engine_cache_dirs().items():
        if name not in os.environ:
            path.mkdir(parents=True, exist_ok=True)
            os.environ[name] = str(path)
    for name, value in _ENGINE_DEFAULTS.items():
        os.environ.setdefault(name, value)
