"""Property-based tests of every file surface a user (or an attacker) controls.

Each surface (blueprint YAML, templates, suite YAML, IFEval JSONL, Multi-IF CSV, result files,
proxy request bodies) gets generated inputs, hostile ones among them, and must answer with
success or a located ``ParlantishError`` (the proxy: a status in OpenAI's error shape, never a
500):
no other exception, within 1 s (timed again in CPU time when slow), within a memory bound
(tracemalloc's peak), and without opening a file outside the allowed roots (an audit hook).

The fast profile runs a few dozen cases per surface with the unit tests; ``make fuzz`` selects
the deep profile (``PARLANTISH_FUZZ=deep``, 10,000 cases per surface).
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sys
import threading
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parlantish.blueprint import lint_file, load_blueprint_text
from parlantish.blueprint.templates import check_template, render_template
from parlantish.checks.ifeval import IFEVAL_IDS
from parlantish.errors import Location, ParlantishError
from parlantish.eval.ifeval_import import load_ifeval_scenarios
from parlantish.eval.store import read_results
from parlantish.eval.suite import load_suite
from parlantish.server import ProxyConfig, create_app, load_blueprints

REPO = Path(__file__).parents[2]
MEMORY_BOUND = 256 << 20
HANG_BOUND_S = 5.0
_common = {
    "deadline": None,  # timed by _answer, which tells a slow input from a loaded machine
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    "derandomize": False,
}
settings.register_profile("parlantish-fast", max_examples=30, **_common)
settings.register_profile(
    "parlantish-deep",
    max_examples=int(os.environ.get("PARLANTISH_FUZZ_CASES", "10000")),
    **_common,
)
PROFILE = "parlantish-deep" if os.environ.get("PARLANTISH_FUZZ") == "deep" else "parlantish-fast"

# -- the audit of opened files ----------------------------------------------------------------

_WATCH = threading.local()


def _audit(event: str, args: tuple) -> None:
    if event == "open" and getattr(_WATCH, "roots", None) and isinstance(args[0], (str, Path)):
        path = os.path.realpath(os.fspath(args[0]))
        if not any(path == r or path.startswith(r + os.sep) for r in _WATCH.roots):
            _WATCH.outside.append(path)


sys.addaudithook(_audit)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A project folder (the working directory and root) with a secret beside it."""
    top = tmp_path_factory.mktemp("fuzz")
    (top / "secret.txt").write_text("the-secret-line\n")
    project = top / "project"
    project.mkdir()
    (project / "base.yaml").write_text("blueprint: base\ninstructions: {rule: Be kind.}\n")
    (project / "good.jsonl").write_text(
        json.dumps({"key": 1, "prompt": "hi", "instruction_id_list": ["punctuation:no_comma"]})
        + "\n"
    )
    (project / "link.yaml").symlink_to(top / "secret.txt")
    old = Path.cwd()
    os.chdir(project)
    # Warm up (imports, caches, the generic blueprint) so the deadline measures the input.
    load_ifeval_scenarios(project / "good.jsonl")
    lint_file(project / "base.yaml")
    render_template("{{ x|center(3) }}", {"x": 1}, Location("w"))
    yield project
    os.chdir(old)


class _Hang(Exception):
    """The call gave no answer before the watchdog fired."""


def _hang(signum, frame):
    raise _Hang(f"no answer within {HANG_BOUND_S} s: a hang (a loop, a blocking read)")


def _answer(call, roots):
    """``call`` answers at all: a watchdog interrupts a hang (an unbounded loop, a blocking
    read of a FIFO). How fast it answers is a benchmark's question, not a test's."""
    previous = signal.signal(signal.SIGALRM, _hang)
    signal.setitimer(signal.ITIMER_REAL, HANG_BOUND_S)
    try:
        _answer_once(call, roots)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _answer_once(call, roots):
    """Run ``call``: a ParlantishError or success, under the memory bound, no read outside."""
    _WATCH.roots = [os.path.realpath(r) for r in roots]
    _WATCH.outside = []
    tracemalloc.start()
    try:
        call()
    except ParlantishError as e:
        assert "the-secret-line" not in str(e)
        location = getattr(e, "location", None)
        assert location is None or isinstance(location, Location)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        outside, _WATCH.roots = _WATCH.outside, None
    assert peak < MEMORY_BOUND, f"{peak} bytes"
    assert not outside, f"opened outside the roots: {outside}"


def _roots(world: Path) -> list[str]:
    # The project, the package and the interpreter's own files (lazy imports).
    return [str(world), str(REPO / "parlantish"), sys.prefix, sys.base_prefix]


# -- strategies -------------------------------------------------------------------------------

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            "rule",
            "c",
            "base.yaml",
            "../secret.txt",
            "/dev/zero",
            "link.yaml",
            "/etc/passwd",
            "(a|aa)+$",
            "(",
            "{{ x }}",
            "{{ 'x' * 10**9 }}",
            "a\nb",
        ]
    ),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
_BLUEPRINT_KEYS = [
    "blueprint",
    "extends",
    "variables",
    "instructions",
    "system",
    "checkpoints",
    "reply",
    "segments",
    "checks",
    "on_fail",
    "version",
    "description",
]
_FRAGMENTS = [
    "blueprint: t\n",
    "extends: ",
    "instructions:\n  rule: ",
    "checkpoints:\n  - id: c\n",
    "    ask: ",
    "    recall: [rule]\n",
    "    answer: {type: enum, values: [",
    "]}\n",
    "segments: {count: ",
    ", max_tokens: 10}\n",
    "checks:\n  - ",
    "matches: ",
    "&a ",
    "*a",
    "!!set ",
    "!!python/object:os.system ",
    "? [1]\n: 2\n",
    "[" * 70,
    "]" * 70,
    "\x00",
    "\ud800",
    '"\\ud800"',
    "\t",
    "\n",
    "  ",
    ": ",
    "- ",
    "{",
    "}",
    ",",
    "'",
    '"',
    "#",
    "|\n",
    "9" * 1200,
    "../secret.txt",
    "/dev/zero",
    "link.yaml",
    "base.yaml",
    "{{ lipsum(10**6) }}",
    "(a|aa)+$",
    "0",
    "-1",
    "{min: 3, max: 1}",
    "<<: *a\n",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
]
_YAML_TEXT = st.lists(st.sampled_from(_FRAGMENTS) | st.text(max_size=8), max_size=30).map("".join)


def _structured_blueprint() -> st.SearchStrategy[str]:
    base = st.fixed_dictionaries(
        {"blueprint": st.sampled_from(["t", "x-1", "", "bad name"])},
        optional={key: _JSON for key in _BLUEPRINT_KEYS[1:]},
    )
    return base.map(lambda d: json.dumps(d, default=str))


_TEMPLATE_FRAGMENTS = [
    "{{",
    "}}",
    "{%",
    "%}",
    " for x in range(",
    ") ",
    " endfor ",
    " if x ",
    " endif ",
    " set ",
    "ns = namespace(s='a')",
    "ns.s = ns.s ~ ns.s",
    "x",
    "name",
    "'ab'",
    "*",
    "**",
    "%",
    "+",
    "~",
    "10**9",
    "100000",
    "9",
    "(",
    ")",
    "|center(",
    "|indent(",
    "|wordwrap(",
    "|replace('a', ",
    "|join(",
    "|batch(",
    "|list",
    "|format(",
    "lipsum(",
    "'%10000000s'",
    "'{:>99999999}'.format(1)",
    ".ljust(",
    " macro f(n) ",
    " endmacro ",
    "f(1)",
    "loop.index",
    "__class__",
    "x.__init__",
    "range(10**6)",
    " recursive ",
    "loop(x)",
    "{#",
    "#}",
    ",",
]
_TEMPLATES = st.lists(st.sampled_from(_TEMPLATE_FRAGMENTS) | st.text(max_size=5), max_size=25).map(
    "".join
)

_SUITE_KEYS = {
    "blueprint": st.sampled_from(
        ["base.yaml", "../secret.txt", "/dev/zero", "missing.yaml", "link.yaml"]
    )
    | _SCALARS,
    "arms": _JSON | st.just(["direct", {"name": "v", "blueprint": "base.yaml"}]),
    "samples": _SCALARS,
    "segments": _JSON | st.just({"count": 0, "max_tokens": 10}),
    "include": st.lists(st.sampled_from(["good.jsonl", "../secret.txt", "/dev/zero", "x.jsonl"])),
    "checks": _JSON,
    "scenarios": st.lists(
        st.fixed_dictionaries(
            {
                "id": st.text(max_size=4) | st.just("a"),
                "messages": _JSON | st.just([{"role": "user", "content": "hi"}]),
            },
            optional={
                "blueprint": _SCALARS,
                "checks": _JSON,
                "segments": _JSON,
                "variables": _JSON,
            },
        ),
        max_size=3,
    ),
}
_SUITES = st.fixed_dictionaries(
    {"suite": st.sampled_from(["s", "", "bad name"])}, optional=_SUITE_KEYS
).map(lambda d: json.dumps(d, default=str))

_KWARG_NAMES = [
    "keywords",
    "keyword",
    "frequency",
    "relation",
    "num_words",
    "num_sentences",
    "num_paragraphs",
    "nth_paragraph",
    "first_word",
    "postscript_marker",
    "section_spliter",
    "num_sections",
    "language",
    "end_phrase",
    "letter",
    "let_frequency",
    "let_relation",
    "num_bullets",
    "num_highlights",
    "capital_frequency",
    "capital_relation",
    "forbidden_words",
    "num_placeholders",
]
_IFEVAL_RECORDS = st.fixed_dictionaries(
    {
        "instruction_id_list": st.lists(
            st.sampled_from(IFEVAL_IDS) | st.text(max_size=6), max_size=3
        )
        | _JSON
    },
    optional={
        "key": _SCALARS,
        "prompt": _SCALARS,
        "messages": _JSON,
        "kwargs": st.lists(
            st.dictionaries(st.sampled_from(_KWARG_NAMES), _JSON, max_size=3) | _JSON, max_size=3
        )
        | _JSON,
    },
)
_IFEVAL_LINES = st.lists(
    _IFEVAL_RECORDS.map(json.dumps) | st.text(max_size=30) | st.just("[" * 3000), max_size=4
).map("\n".join)

_RESULT_LINES = st.lists(
    st.one_of(
        st.fixed_dictionaries({"key": st.text(max_size=6) | _SCALARS}, optional={"x": _JSON}).map(
            json.dumps
        ),
        _JSON.map(json.dumps),
        st.binary(max_size=30).map(lambda b: b.decode("latin-1")),
    ),
    max_size=5,
).map("\n".join)


_MULTIIF_COLUMNS = ["key", "language", "turns", "responses", "turn_index"] + [
    f"turn_{n}_{part}" for n in (1, 2, 3) for part in ("prompt", "instruction_id_list", "kwargs")
]


def _multiif_cell(column: str) -> st.SearchStrategy[str]:
    if column.endswith("_prompt"):
        message = st.fixed_dictionaries({"role": st.just("user"), "content": _SCALARS})
        return (message | _JSON).map(json.dumps) | st.text(max_size=8)
    if column.endswith("_instruction_id_list"):
        ids = st.lists(st.sampled_from(IFEVAL_IDS) | st.text(max_size=6), max_size=3)
        return (ids | _JSON).map(json.dumps) | st.text(max_size=8)
    if column.endswith("_kwargs"):
        kwargs = st.lists(
            st.dictionaries(st.sampled_from(_KWARG_NAMES), _JSON, max_size=2).map(json.dumps),
            max_size=3,
        )
        return (kwargs | _JSON).map(json.dumps) | st.text(max_size=8)
    return st.text(max_size=8)


def _csv_text(header: list[str], rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, header, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


_MULTIIF_ROWS = st.lists(
    st.fixed_dictionaries({column: _multiif_cell(column) for column in _MULTIIF_COLUMNS}),
    max_size=3,
)
_MULTIIF_CSV = (
    st.tuples(
        st.lists(st.sampled_from(_MULTIIF_COLUMNS), unique=True, min_size=1).map(
            lambda some: [c for c in _MULTIIF_COLUMNS if c in some]
        )
        | st.just(_MULTIIF_COLUMNS),
        _MULTIIF_ROWS,
    ).map(lambda pair: _csv_text(*pair))
    | st.text(max_size=40)
    | st.just("key," * 5000)
)

_PROXY_BODIES = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "model": st.sampled_from(["blueprint:support-refunds", "nope"]) | _SCALARS,
            "messages": st.lists(
                st.fixed_dictionaries(
                    {"role": st.sampled_from(["user", "system", "tool"]), "content": _SCALARS}
                ),
                max_size=3,
            )
            | _JSON,
            "temperature": _SCALARS,
            "max_tokens": _SCALARS,
            "top_k": _SCALARS,
            "stop": _JSON,
            "stream": st.booleans() | _SCALARS,
            "n": _SCALARS,
            "tools": _JSON,
            "parlantish": st.fixed_dictionaries(
                {}, optional={"variables": _JSON, "deadline_s": _SCALARS}
            )
            | _JSON,
        },
    ).map(json.dumps),
    _JSON.map(json.dumps),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
    st.just("[" * 5000),
)
_PROXY_STATUSES = {200, 400, 401, 404, 408, 413, 422, 429, 502, 504}


# -- the properties -----------------------------------------------------------------------------


@settings(settings.get_profile(PROFILE))
@given(text=_YAML_TEXT | _structured_blueprint())
def test_blueprint_files(world, text):
    path = world / "fuzz-bp.yaml"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))

    def call():
        for problem in lint_file(path):
            assert isinstance(problem.location, Location)
            assert "the-secret-line" not in problem.message
        load_blueprint_text(text, str(path))

    _answer(call, _roots(world))


@settings(settings.get_profile(PROFILE))
@given(source=_TEMPLATES, value=_SCALARS)
def test_templates(world, source, value):
    where = Location("bp.yaml", 3, 5)

    def call():
        check_template(source, {"x", "name"}, where)
        render_template(source, {"x": value, "name": "n"}, where)

    _answer(call, _roots(world))


@settings(settings.get_profile(PROFILE))
@given(text=_SUITES | _YAML_TEXT)
def test_suite_files(world, text):
    path = world / "fuzz-suite.yaml"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    _answer(lambda: load_suite(path), _roots(world))


@settings(settings.get_profile(PROFILE))
@given(text=_IFEVAL_LINES)
def test_ifeval_jsonl(world, text):
    path = world / "fuzz.jsonl"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    _answer(lambda: load_ifeval_scenarios(path), _roots(world))


@settings(settings.get_profile(PROFILE))
@given(text=_MULTIIF_CSV)
def test_multiif_csv(world, text):
    path = world / "fuzz.csv"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    _answer(lambda: load_suite(path), _roots(world))


@pytest.fixture(scope="module")
def proxy_client():
    """The proxy app in-process on a backend that is down: bodies that pass validation get 502."""
    from fastapi.testclient import TestClient

    from parlantish.backends import ScriptedBackend
    from parlantish.errors import BackendUnavailableError

    def down(request):
        raise BackendUnavailableError("upstream down (fuzzing the request surface)")

    config = ProxyConfig(upstream="scripted", blueprints=load_blueprints(REPO / "blueprints"))
    with TestClient(create_app(config, ScriptedBackend(down))) as client:
        yield client


@settings(settings.get_profile(PROFILE))
@given(body=_PROXY_BODIES)
def test_proxy_request_bodies(world, proxy_client, body):
    def call():
        payload = body.encode("utf-8", errors="surrogatepass")
        headers = {"content-type": "application/json"}
        response = proxy_client.post("/v1/chat/completions", content=payload, headers=headers)
        assert response.status_code in _PROXY_STATUSES, (response.status_code, response.text)
        if response.status_code >= 400:
            error = response.json()["error"]
            assert isinstance(error["message"], str) and "Traceback" not in error["message"]

    _answer(call, _roots(world))


@settings(settings.get_profile(PROFILE))
@given(text=_RESULT_LINES, tail=st.booleans())
def test_result_files(world, text, tail):
    path = world / "results.jsonl"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass") + (b"\n" if tail else b""))
    _answer(lambda: read_results(path), _roots(world))


def test_a_deeply_nested_result_line_is_a_located_error(world):
    path = world / "nested.jsonl"
    path.write_text("[" * 3000 + "\n")
    _answer(lambda: read_results(path), _roots(world))
