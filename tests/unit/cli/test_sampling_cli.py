"""The sampling options of ``generate``, ``run``, ``eval`` and ``serve`` reach the settings the
backend receives; a bad value names its option."""

import pytest

from parlantish.backends import ScriptedBackend
from parlantish.blueprint import load_blueprint
from parlantish.cli import evaluate, generate
from parlantish.cli.main import main
from parlantish.compiler import compile_plan, example_output
from parlantish.runtime import guard as guard_module
from parlantish.server import app as app_module

from ..eval.conftest import BLUEPRINTS, SUITE, comma_sometimes, plan_shaped
from ..eval.test_runner import evaluator

FLAGS = [
    "--top-p", "0.9", "--top-k", "40", "--min-p", "0.05", "--repetition-penalty", "1.1",
    "--frequency-penalty", "0.3", "--presence-penalty", "-0.2", "--min-tokens", "1",
    "--stop", "\u0001", "--stop", "\u0002",
]  # fmt: skip
EXPECTED = {
    "top_p": 0.9,
    "top_k": 40,
    "min_p": 0.05,
    "repetition_penalty": 1.1,
    "frequency_penalty": 0.3,
    "presence_penalty": -0.2,
    "min_tokens": 1,
    "stop": ("\u0001", "\u0002"),
}


def run(args, capsys):
    with pytest.raises(SystemExit) as exited:
        main(args)
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


def settings_of(request):
    return {name: getattr(request.sampling, name) for name in EXPECTED}


def test_generate_sends_every_sampling_option(monkeypatch, capsys):
    backend = ScriptedBackend(["fine"])
    monkeypatch.setattr(generate, "resolve_backend", lambda spec: backend)
    code, out, _ = run(["generate", "hi", "--seed", "4", *FLAGS], capsys)
    assert code == 0 and out.strip() == "fine"
    assert settings_of(backend.requests[0]) == EXPECTED and backend.requests[0].sampling.seed == 4


def test_run_sends_every_sampling_option_and_bounds_the_reply(monkeypatch, capsys):
    user = [{"role": "user", "content": "hello"}]
    plan = compile_plan(
        load_blueprint(BLUEPRINTS / "support-refunds.yaml"), {"customer_name": "D"}, user
    )
    backend = ScriptedBackend([example_output(plan, "Hello D, one two three four")])
    monkeypatch.setattr(guard_module, "resolve_backend", lambda spec: backend)
    args = ["run", str(BLUEPRINTS / "support-refunds.yaml"), "--var", "customer_name=D"]
    code, out, err = run([*args, "--message", "hello", "--max-tokens", "3", *FLAGS], capsys)
    assert code == 0, err
    assert out.strip() == "Hello D, one"  # three of the scripted backend's tokens
    assert settings_of(backend.requests[0]) == EXPECTED
    assert backend.requests[0].sampling.max_tokens == plan.budget(3)


def test_eval_sends_every_sampling_option(monkeypatch, tmp_path, capsys):
    suite_file = tmp_path / "suite.yaml"
    suite_file.write_text(SUITE)
    backends = []

    def resolve(specs, **options):
        backends.append(plan_shaped(evaluator(suite_file, tmp_path / "unused"), comma_sometimes))
        return backends[-1]

    monkeypatch.setattr(evaluate, "resolve_backend", resolve)
    args = ["eval", str(suite_file), "--out", str(tmp_path / "out"), "--samples", "1"]
    run([*args, "--temperature", "0.2", *FLAGS], capsys)
    (backend,) = backends
    assert backend.requests
    for request in backend.requests:
        assert settings_of(request) == EXPECTED and request.sampling.temperature == 0.2


def test_serve_takes_the_sampling_options_as_the_proxys_defaults(monkeypatch, tmp_path, capsys):
    seen = []

    def create_app(config):
        seen.append(config)
        raise SystemExit(0)

    monkeypatch.setattr(app_module, "create_app", create_app)
    run(["serve", "--upstream", "scripted", "--blueprints", str(BLUEPRINTS), *FLAGS], capsys)
    assert seen[0].sampling == EXPECTED


@pytest.mark.parametrize(
    ("flags", "option"),
    [
        (["--top-k", "-2"], "--top-k"),
        (["--min-p", "1.5"], "--min-p"),
        (["--stop", "a", "--stop", "b", "--stop", "c", "--stop", "d", "--stop", "e"], "--stop"),
    ],
)
def test_a_bad_sampling_option_names_itself(flags, option, capsys):
    code, _, err = run(["generate", "hi", *flags], capsys)
    assert code == 2 and option in err and "Traceback" not in err
