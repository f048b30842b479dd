"""An output folder holds one run: another run's results are refused before anything is
generated, ``--force-new`` moves them aside (nothing lost), and two concurrent evals on one
folder give one run and one refusal, every sample once."""

import json

import pytest

from parlantish.cli import evaluate
from parlantish.cli.main import main
from parlantish.errors import UserError
from parlantish.eval import read_results

from .conftest import comma_sometimes, plan_shaped, start_scripted_run
from .test_runner import evaluator


def snapshot(folder):
    """The run's files of ``folder`` (not the lock file) by name."""
    return {
        p.name: p.read_bytes()
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".")
    }


def test_a_run_with_other_sampling_settings_is_refused_and_nothing_changes(suite_file, tmp_path):
    out = tmp_path / "out"
    evaluator(suite_file, out, samples=1).run()
    before = snapshot(out)
    suite_file.write_text(
        suite_file.read_text().replace("seed: 1", "seed: 1\nsampling: {temperature: 0.2}")
    )
    second = evaluator(suite_file, out, samples=1)
    with pytest.raises(UserError, match=r"sampling\.temperature: 0\.7 saved, 0\.2 now"):
        second.run()
    assert not second.backend.requests
    assert snapshot(out) == before


def test_saved_samples_outside_the_run_are_refused_and_counted(suite_file, tmp_path):
    out = tmp_path / "out"
    evaluator(suite_file, out, samples=2).run()
    with pytest.raises(UserError, match=r"samples outside this run \(6\)"):
        evaluator(suite_file, out, samples=1).run()


def test_a_larger_run_resumes_into_the_folder(suite_file, tmp_path):
    out = tmp_path / "out"
    evaluator(suite_file, out, samples=1).run()
    more = evaluator(suite_file, out, samples=2)
    more.run()
    assert len(more.backend.requests) == 2 * 3  # only the new samples
    keys = [r["key"] for r in read_results(out / "results.jsonl")]
    assert len(keys) == len(set(keys)) == 2 * 3 * 2


def test_force_new_moves_the_old_run_aside_and_starts_afresh(suite_file, tmp_path):
    out = tmp_path / "out"
    evaluator(suite_file, out, samples=2).run()
    before = snapshot(out)
    fresh = evaluator(suite_file, out, samples=1, force_new=True)
    fresh.run()
    (aside,) = [p for p in out.iterdir() if p.name.startswith("previous-")]
    assert snapshot(aside) == before  # nothing lost
    records = read_results(out / "results.jsonl")
    assert len(records) == 2 * 3 and {r["sample"] for r in records} == {0}
    assert json.loads((out / "run.json").read_text())["samples"] == 1


def test_force_new_on_a_compatible_folder_keeps_it(suite_file, tmp_path):
    out = tmp_path / "out"
    evaluator(suite_file, out, samples=1).run()
    again = evaluator(suite_file, out, samples=1, force_new=True)
    again.run()
    assert not again.backend.requests
    assert not [p for p in out.iterdir() if p.name.startswith("previous-")]


def test_the_cli_refuses_before_any_backend_starts(suite_file, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    evaluator(suite_file, out, samples=2).run()

    def no_backend(*args, **kwargs):
        raise AssertionError("the backend was resolved before the folder was checked")

    monkeypatch.setattr(evaluate, "resolve_backend", no_backend)
    args = ["eval", str(suite_file), "--out", str(out), "--samples", "1", "--quiet"]
    with pytest.raises(SystemExit) as exited:
        main(args)
    err = capsys.readouterr().err
    assert exited.value.code != 0
    assert "samples outside this run" in err and "--force-new" in err and "Traceback" not in err

    backends = []

    def scripted(specs, **options):
        backends.append(
            plan_shaped(evaluator(suite_file, tmp_path / "unused", samples=1), comma_sometimes)
        )
        return backends[-1]

    monkeypatch.setattr(evaluate, "resolve_backend", scripted)
    with pytest.raises(SystemExit) as exited:
        main([*args, "--force-new"])
    assert exited.value.code in (0, 1), capsys.readouterr().err
    assert len(read_results(out / "results.jsonl")) == 2 * 3
    assert len(backends) == 1 and len(backends[0].requests) > 0


def test_two_concurrent_evals_on_one_folder_one_runs_one_refuses(suite_file, tmp_path):
    out = tmp_path / "out"
    runs = [
        start_scripted_run(suite_file, out, samples=4, concurrency=2, delay_s=0.05)
        for _ in range(2)
    ]
    codes = sorted(run.wait(timeout=300) for run in runs)
    errors = [run.stderr.read().decode() for run in runs]
    assert codes == [0, 3], errors
    assert any("is in use by process" in e for e in errors), errors
    raw = [line for line in (out / "results.jsonl").read_text().splitlines() if line]
    keys = [json.loads(line)["key"] for line in raw]
    assert len(keys) == len(set(keys)) == 2 * 3 * 4


def test_a_run_against_another_model_is_refused(suite_file, tmp_path):
    out = tmp_path / "out"
    evaluator(suite_file, out, samples=1).run()
    other = evaluator(suite_file, out, samples=1)
    other.backend.model = "/elsewhere/another-model"
    with pytest.raises(UserError, match=r'model: "scripted" saved, "another-model" now'):
        other.run()
    same = evaluator(suite_file, out, samples=1)
    same.backend.model = "/another/home/scripted"  # the same model in another folder
    same.run()


def test_force_new_moves_aside_a_folder_it_cannot_read(suite_file, tmp_path):
    out = tmp_path / "out"
    evaluator(suite_file, out, samples=1).run()
    (out / "run.json").write_text('{"suite": ')  # cut short
    with pytest.raises(UserError, match="cannot read"):
        evaluator(suite_file, out, samples=1).run()
    evaluator(suite_file, out, samples=1, force_new=True).run()
    (aside,) = [p for p in out.iterdir() if p.name.startswith("previous-")]
    assert (aside / "run.json").read_text() == '{"suite": '
    assert len(read_results(out / "results.jsonl")) == 2 * 3


def test_a_resumed_run_counts_its_saved_samples_in_the_progress_rates(suite_file, tmp_path):
    out = tmp_path / "out"
    evaluator(suite_file, out, samples=1).run()
    saved = read_results(out / "results.jsonl")
    more = evaluator(suite_file, out, samples=2)
    more.run()
    records = read_results(out / "results.jsonl")
    progress = more.progress
    assert progress.skipped == len(saved) and progress.done == len(records)
    assert progress.passed == sum(r["passed"] for r in records)
    assert progress.pass_rate == pytest.approx(progress.passed / len(records))
