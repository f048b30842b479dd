"""Review rules as tests: layering, import cost, public names."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "parlantish"

# What each layer may import from parlantish (besides itself). Layers import downward only;
# backends are a leaf; the CLI sits on top.
ALLOWED = {
    "errors": set(),
    "paths": set(),
    "core": {"errors"},
    "backends": {"errors", "paths", "core"},
    "checks": {"errors", "core", "backends"},
    "blueprint": {"errors", "core", "checks"},
    "compiler": {"errors", "core", "backends", "blueprint", "checks"},
    "runtime": {"errors", "core", "backends", "checks", "blueprint", "compiler"},
    "eval": {"errors", "paths", "core", "backends", "checks", "blueprint", "compiler", "runtime"},
    "reports": {"errors", "core", "eval"},
    "server": {"errors", "core", "backends", "checks", "blueprint", "compiler", "runtime"},
    "testing": {
        "errors",
        "core",
        "backends",
        "checks",
        "blueprint",
        "compiler",
        "runtime",
        "eval",
    },
    "cli": {
        "errors",
        "core",
        "paths",
        "backends",
        "checks",
        "blueprint",
        "compiler",
        "runtime",
        "eval",
        "reports",
        "server",
        "__init__",
    },
    "__init__": {"errors", "core", "backends", "runtime"},
    "__main__": {"cli"},
}


def layer_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py") if len(relative.parts) > 1 else relative.stem


def parlantish_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "parlantish":
                found.add(parts[1] if len(parts) > 1 else "__init__")
    return found


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_layers_import_downward_only(path):
    layer = layer_of(path)
    assert layer in ALLOWED, f"{layer} is not a known layer: add it to ALLOWED"
    illegal = parlantish_imports(path) - ALLOWED[layer] - {layer}
    assert not illegal, f"{path.relative_to(PACKAGE)} imports {sorted(illegal)}"


def test_importing_parlantish_does_not_import_vllm_or_torch():
    code = (
        "import sys, parlantish, parlantish.blueprint, parlantish.compiler, parlantish.cli.main; "
        "print(sorted(m for m in ('vllm', 'torch', 'transformers') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("__init__.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_every_package_declares_all(path):
    assert "__all__" in path.read_text()


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_files_stay_small_and_documented(path):
    text = path.read_text()
    assert len(text.splitlines()) <= 600, "split this file"
    assert ast.get_docstring(ast.parse(text)), "every module says what it is for"


def test_no_removed_vllm_fields_are_sent():
    removed = re.compile(r"guided_(json|regex|choice|grammar|decoding_backend)")
    for path in PACKAGE.rglob("*.py"):
        assert not removed.search(path.read_text()), path


PIPELINE = {PACKAGE / "runtime" / name for name in ("attempt.py", "judging.py", "stepwise.py")}


def _pipeline_violations(path: Path) -> list[str]:
    """Calls that generate for a plan, read a plan's output back, or run checks, outside the
    attempt pipeline."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call) or not isinstance(node.func, (ast.Attribute, ast.Name)):
            continue
        func = node.func
        if isinstance(func, ast.Attribute):
            owner = ast.unparse(func.value)
            if func.attr in ("request", "parse") and owner.endswith("plan"):
                found.append(f"line {node.lineno}: {owner}.{func.attr}(…)")
            if func.attr == "function" and owner.endswith(".type"):
                found.append(f"line {node.lineno}: runs a check function directly")
        elif func.id in ("check", "run_checks", "first_failure"):
            found.append(f"line {node.lineno}: runs a check")
    return found


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_only_the_attempt_pipeline_generates_for_plans_and_runs_checks(path):
    if path in PIPELINE or layer_of(path) in ("checks", "compiler", "backends"):
        return  # the pipeline itself; checks and layouts define what it calls
    assert not _pipeline_violations(path), _pipeline_violations(path)


def test_the_pipeline_rule_catches_a_second_copy(tmp_path):
    copy = tmp_path / "copy.py"
    copy.write_text(
        "async def sample(item, backend, checks):\n"
        "    result = await backend.agenerate(item.plan.request(item.sampling))\n"
        "    parsed = item.plan.parse(result.text)\n"
        "    return [check(parsed.text) for check in checks]\n"
    )
    assert len(_pipeline_violations(copy)) == 3
