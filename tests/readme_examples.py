"""The README's examples as test cases.

Every fenced block of README.md (parsed with markdown-it, the Markdown parser rich depends on)
becomes one case, named by its heading and its index under that heading. How a block is tested
is said by an HTML comment right above its fence::

    <!-- readme-test: KIND key="value" ... -->

Kinds (without a comment: ``unit``):

- ``unit``: run on the CPU, no engine and no server; ``PARLANTISH_BACKEND`` is ``scripted``, so a
  command that would start an engine fails instead;
- ``integration``: run in the integration tier, where ``http://127.0.0.1:8000/v1`` stands for the
  session's vLLM server, ``http://127.0.0.1:8080/v1`` for a ``parlantish serve`` in front of it
  (started with ``--api-key KEY``) and ``embedded`` is the in-process engine;
- ``synopsis``: a command's usage: every ``--option`` it names must be in the command's ``--help``;
- ``fragment of="FILE"``: a YAML fragment, merged into the blueprint FILE and linted;
- ``output``: a transcript: the nearest Python block above it is run and each line must be in what
  it prints (numbers may differ);
- ``skip reason="…"``: not run, and the reason says why (a reason is required).

Options: ``skip="PREFIX"`` leaves out the commands starting with PREFIX (with a ``reason``);
``dry-run="make"`` runs those commands as ``make -n`` in the repository; ``env="K=V …"`` sets
variables; ``files="DEST=SOURCE …"`` copies files (relative to the repository) into the temporary
working folder; ``pytest="ARGS"`` runs a Python block as a pytest file (with ``conftest="FILE"``
beside it and ``rc="0,1"`` the exit codes accepted); ``path="DEST"`` is where a YAML block is
written. Python blocks run as plain scripts in a temporary folder holding copies of
``blueprints/`` and ``examples/``; shell blocks run one command at a time (``\\`` continues a
line) with the project's virtualenv first on PATH.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import jsonschema
from markdown_it import MarkdownIt
from ruamel.yaml import YAML

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
VENV_BIN = Path(sys.executable).parent
KINDS = ("unit", "integration", "synopsis", "fragment", "output", "skip")
SHELL = ("sh", "bash", "shell", "console")
SERVER_URL = "http://127.0.0.1:8000/v1"
PROXY_URL = "http://127.0.0.1:8080/v1"
DIRECTIVE = re.compile(r"<!--\s*readme-test:\s*(?P<body>.*?)\s*-->", re.S)
# What a unit-tier command or script may not name: it would start an engine or need a server.
NEEDS_ENGINE = re.compile(r"\bembedded\b|127\.0\.0\.1:80[08]0|\bparlantish serve\b|^make\b", re.M)


class ExampleError(AssertionError):
    """A README example that does not run as written (or a directive that does not parse)."""


@dataclass(frozen=True)
class Block:
    """One fenced block: its language, text, heading, index under the heading and directive."""

    lang: str
    text: str
    line: int  # 1-based line of the opening fence
    heading: str
    index: int
    kind: str
    options: dict[str, str] = field(default_factory=dict)
    problem: str | None = None  # a directive that does not parse

    @property
    def id(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.heading.lower()).strip("-") or "top"
        return f"{slug}-{self.index}"

    @property
    def where(self) -> str:
        return f"README.md:{self.line} ({self.heading!r} block {self.index}, ```{self.lang})"


def _directive(content: str, line: int) -> tuple[str, dict[str, str], str | None]:
    match = DIRECTIVE.search(content)
    assert match is not None
    try:
        words = shlex.split(match.group("body"))
    except ValueError as e:
        return "unit", {}, f"README.md:{line}: directive does not parse: {e}"
    if not words or words[0] not in KINDS:
        return "unit", {}, f"README.md:{line}: directive kind must be one of {', '.join(KINDS)}"
    options: dict[str, str] = {}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep:
            return words[0], {}, f"README.md:{line}: directive option {word!r} is not key=value"
        options[key] = value
    if (words[0] == "skip" or "skip" in options) and not options.get("reason"):
        return words[0], options, f'README.md:{line}: a skip needs reason="…"'
    if words[0] == "fragment" and "of" not in options:
        return words[0], options, f'README.md:{line}: a fragment needs of="FILE"'
    return words[0], options, None


def readme_blocks(path: Path = README) -> list[Block]:
    """Every fenced block of the README, with the directive written right above it."""
    tokens = MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8"))
    blocks: list[Block] = []
    heading, counts = "top", {}  # type: ignore[var-annotated]
    pending: tuple[str, dict[str, str], str | None, int] | None = None
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            heading = tokens[i + 1].content
        if token.type == "html_block" and DIRECTIVE.search(token.content):
            assert token.map is not None
            pending = (*_directive(token.content, token.map[0] + 1), token.map[0] + 1)
            continue
        if token.type == "fence":
            assert token.map is not None
            lang = token.info.split()[0] if token.info.strip() else ""
            kind, options, problem, _ = pending or ("unit", {}, None, 0)
            counts[heading] = counts.get(heading, 0) + 1
            blocks.append(
                Block(lang, token.content, token.map[0] + 1, heading, counts[heading], kind,
                      options, problem)
            )  # fmt: skip
        elif pending is not None:
            line = pending[3]
            problem = f"README.md:{line}: a readme-test directive must be right above a fence"
            blocks.append(Block("", "", line, heading, 0, "skip", {}, problem))
        pending = None
    return blocks


# --- commands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One shell command of a block and the README line it starts on."""

    text: str
    line: int


def shell_commands(block: Block) -> list[Command]:
    """The block's commands: ``\\`` joins lines (and, in a synopsis, so does indentation);
    console blocks keep only the ``$ `` lines."""
    commands: list[Command] = []
    joining = False
    for offset, raw in enumerate(block.text.splitlines()):
        line = raw
        if block.lang == "console":
            if not line.startswith("$ "):
                joining = False
                continue
            line = line[2:]
        indented = (
            line[:1].isspace()
            and commands
            and (block.kind == "synopsis" or is_synopsis(commands[-1].text))
        )
        if (joining or indented) and commands:
            last = commands[-1]
            commands[-1] = Command(f"{last.text} {line.strip()}", last.line)
        elif line.strip() and not line.lstrip().startswith("#"):
            commands.append(Command(line.strip(), block.line + 1 + offset))
        joining = line.rstrip().endswith("\\")
        if joining:
            last = commands[-1]
            commands[-1] = Command(last.text.rstrip().removesuffix("\\").rstrip(), last.line)
    return commands


def is_synopsis(command: str) -> bool:
    """A usage line rather than a command: optional ``[--…]`` parts, repetition marks or an
    all-caps placeholder (``SUITE``, ``OUT``)."""
    if re.search(r"\[-|…", command):
        return True
    try:
        words = shlex.split(_strip_comment(command))
    except ValueError:
        return False
    return any(re.fullmatch(r"[A-Z][A-Z0-9_]+", w) for w in words)


def _strip_comment(command: str) -> str:
    return re.sub(r"\s+#\s.*$", "", command)


def runnable_form(command: str) -> str | None:
    """The synopsis with its optional parts and repetition marks left out, or ``None`` when it
    still holds a placeholder (an all-caps word such as ``SUITE`` or ``OUT``)."""
    text = _strip_comment(command)
    while True:
        stripped = re.sub(r"\[[^\[\]]*\]", "", text)
        if stripped == text:
            break
        text = stripped
    text = re.sub(r"\s+", " ", text.replace("…", "")).strip()
    words = shlex.split(text)
    if any(re.fullmatch(r"[A-Z][A-Z0-9_]*", w) for w in words):
        return None
    return text


def with_options(block: Block, options: dict[str, str]) -> Block:
    """``block`` run with ``options`` added to its directive's (a transcript's own options)."""
    return replace(block, options={**block.options, **options})


def check_synopsis(command: Command, env: dict[str, str], cwd: Path) -> None:
    """Every ``--option`` the synopsis names is in its command's ``--help``."""
    text = _strip_comment(command.text)
    words = shlex.split(re.sub(r"[\[\]…|]", " ", text))
    program = []
    for word in words:
        if word.startswith("-"):
            break
        program.append(word)
    done = subprocess.run(
        [*program, "--help"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise ExampleError(
            f"README.md:{command.line}: `{' '.join(program)} --help` exited {done.returncode}:\n"
            f"{done.stderr[-2000:]}"
        )
    missing = [
        option
        for option in dict.fromkeys(re.findall(r"(?<![\w-])--[a-z][\w-]*", text))
        if not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", done.stdout)
    ]
    if missing:
        raise ExampleError(
            f"README.md:{command.line}: `{' '.join(program)}` has no option "
            f"{', '.join(missing)} (not in its --help)"
        )


# --- running --------------------------------------------------------------------------------


@dataclass
class Context:
    """Where and how a block runs: its tier's URLs, environment and timeout."""

    tier: str
    workdir: Path
    server_url: str | None = None
    proxy_url: str | None = None
    timeout_s: float = 120

    def substitute(self, text: str) -> str:
        if self.server_url:
            text = text.replace(SERVER_URL, self.server_url)
        if self.proxy_url:
            text = text.replace(PROXY_URL, self.proxy_url)
        return text

    def env(self, block: Block) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
        env.pop("PARLANTISH_BACKEND", None)
        env.pop("PYTEST_ADDOPTS", None)
        env.pop("PYTEST_PLUGINS", None)
        if self.tier == "unit":
            env["PARLANTISH_BACKEND"] = "scripted"
        for pair in shlex.split(block.options.get("env", "")):
            key, _, value = pair.partition("=")
            env[key] = self.substitute(value)
        return env


def prepare(block: Block, workdir: Path) -> None:
    """Copies of ``blueprints/`` and ``examples/``, and the block's ``files``, in ``workdir``."""
    for folder in ("blueprints", "examples"):
        shutil.copytree(ROOT / folder, workdir / folder, dirs_exist_ok=True)
    for pair in shlex.split(block.options.get("files", "")):
        dest, _, source = pair.partition("=")
        target = workdir / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / source, target)


def _guard_unit(block: Block, text: str, line: int) -> None:
    if block.kind == "unit" and NEEDS_ENGINE.search(text):
        raise ExampleError(
            f"README.md:{line}: this example needs the engine or a server, and its block has no "
            "directive: add `<!-- readme-test: integration -->` (or a skip with its reason) "
            f"right above the fence of {block.where}"
        )


def _finished(done: subprocess.CompletedProcess[str], what: str, line: int, ok: set[int]) -> str:
    if done.returncode not in ok:
        raise ExampleError(
            f"README.md:{line}: {what} exited {done.returncode}\n"
            f"--- stdout ---\n{done.stdout[-3000:]}\n--- stderr ---\n{done.stderr[-3000:]}"
        )
    return done.stdout + done.stderr


def run_python(block: Block, ctx: Context) -> str:
    """The block as a plain script (or, with ``pytest=``, as a pytest file); returns its output."""
    _guard_unit(block, block.text, block.line)
    prepare(block, ctx.workdir)
    text = ctx.substitute(block.text)
    env = ctx.env(block)
    ok = {int(code) for code in block.options.get("rc", "0").split(",")}
    if "pytest" in block.options:
        script = ctx.workdir / "test_readme_example.py"
        script.write_text(text, encoding="utf-8")
        if "conftest" in block.options:
            shutil.copyfile(ROOT / block.options["conftest"], ctx.workdir / "conftest.py")
        args = shlex.split(ctx.substitute(block.options["pytest"]))
        argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", script.name]
        argv += args
    else:
        script = ctx.workdir / "readme_example.py"
        script.write_text(text, encoding="utf-8")
        argv = [sys.executable, script.name]
    done = subprocess.run(
        argv, cwd=ctx.workdir, env=env, capture_output=True, text=True, timeout=ctx.timeout_s
    )
    return _finished(done, f"the Python example of {block.where}", block.line, ok)


def run_shell(block: Block, ctx: Context) -> list[str]:
    """Each command in turn; returns what was left out (with why), for the report."""
    prepare(block, ctx.workdir)
    env = ctx.env(block)
    left_out: list[str] = []
    skip_prefix = block.options.get("skip")
    dry_run = block.options.get("dry-run")
    for command in shell_commands(block):
        text = ctx.substitute(command.text)
        if skip_prefix and text.startswith(skip_prefix):
            left_out.append(f"{text}: {block.options['reason']}")
            continue
        if is_synopsis(text) or block.kind == "synopsis":
            check_synopsis(Command(text, command.line), env, ctx.workdir)
            form = None if block.kind == "synopsis" else runnable_form(text)
            if form is None:
                continue
            text = form
        if dry_run and text.startswith(dry_run + " "):
            text = f"{dry_run} -n -C {shlex.quote(str(ROOT))} {text[len(dry_run) + 1 :]}"
        else:
            _guard_unit(block, text, command.line)
        done = subprocess.run(
            ["bash", "-c", text], cwd=ctx.workdir, env=env, capture_output=True, text=True,
            timeout=ctx.timeout_s,
        )  # fmt: skip
        _finished(done, f"`{text}`", command.line, {0})
    return left_out


# --- YAML -----------------------------------------------------------------------------------


def _yaml() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    return yaml


def _lint(path: Path, block: Block, workdir: Path) -> None:
    env = dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    done = subprocess.run(
        ["parlantish", "lint", str(path.relative_to(workdir))], cwd=workdir, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    _finished(done, f"`parlantish lint` of the YAML of {block.where}", block.line, {0})
    schema = _yaml().load((ROOT / "blueprints" / "blueprint.schema.json").read_text())
    try:
        jsonschema.validate(_yaml().load(path.read_text(encoding="utf-8")), schema)
    except jsonschema.ValidationError as e:
        raise ExampleError(
            f"README.md:{block.line}: the blueprint of {block.where} breaks "
            f"blueprints/blueprint.schema.json: {e.message}"
        ) from e


def check_yaml(block: Block, workdir: Path) -> None:
    """A blueprint is linted (and validated by the published JSON Schema), a suite loaded by the
    suite loader, a fragment merged into its base blueprint and linted."""
    prepare(block, workdir)
    data = _yaml().load(block.text)
    if block.kind == "fragment":
        base = _yaml().load((ROOT / block.options["of"]).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ExampleError(f"README.md:{block.line}: a fragment must be a mapping")
        base.update(data)
        target = workdir / Path(block.options["of"]).with_name("readme-fragment.yaml")
        with target.open("w", encoding="utf-8") as handle:
            _yaml().dump(base, handle)
        _lint(target, block, workdir)
    elif isinstance(data, dict) and "blueprint" in data and "instructions" in data:
        target = workdir / block.options.get("path", "blueprints/readme-example.yaml")
        target.write_text(block.text, encoding="utf-8")
        _lint(target, block, workdir)
    elif isinstance(data, dict) and "suite" in data:
        target = workdir / block.options.get("path", "examples/readme-example.suite.yaml")
        target.write_text(block.text, encoding="utf-8")
        loader = (
            "import sys\n"
            "from parlantish.errors import UserError\n"
            "from parlantish.eval.suite import load_suite\n"
            "try:\n"
            "    suite = load_suite(sys.argv[1])\n"
            "except UserError as e:\n"
            "    sys.exit(f'error: {e}')\n"
            "print(len(suite.scenarios), 'scenarios')\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", loader, str(target.relative_to(workdir))], cwd=workdir,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        _finished(done, f"loading the suite of {block.where}", block.line, {0})
    else:
        raise ExampleError(
            f"README.md:{block.line}: a YAML block that is neither a blueprint nor a suite: mark "
            f'{block.where} as `fragment of="FILE"` or skip it with a reason'
        )


# --- transcripts ----------------------------------------------------------------------------


def _shape(line: str) -> str:
    """A line with its numbers and quoted texts replaced: what a transcript promises."""
    line = re.sub(r"'[^']*'", "'…'", line.strip())
    return re.sub(r"\d+(\.\d+)?", "N", re.sub(r"\s+", " ", line))


def check_output(transcript: Block, output: str) -> None:
    """Each line of the transcript, its numbers and quotes aside, is in the output in order;
    a transcript line broken over several README lines may be one line of output."""
    shown = " ".join(_shape(line) for line in output.splitlines())
    position = 0
    for offset, line in enumerate(transcript.text.splitlines()):
        shape = _shape(line)
        if not shape:
            continue
        found = shown.find(shape, position)
        if found < 0:
            raise ExampleError(
                f"README.md:{transcript.line + 1 + offset}: the transcript line {line.strip()!r} "
                f"is not in what the example prints:\n{output[-3000:]}"
            )
        position = found + len(shape)


def preceding_python(blocks: list[Block], transcript: Block) -> Block:
    """The nearest Python block above ``transcript``."""
    above = [b for b in blocks if b.lang == "python" and b.line < transcript.line]
    if not above:
        raise ExampleError(f"README.md:{transcript.line}: no Python block above this transcript")
    return above[-1]
