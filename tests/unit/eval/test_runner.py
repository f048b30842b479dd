"""The runner on the scripted backend: records, resume, errors, retries, pools."""

import json

import pytest

from parlantish.backends import BackendPool, ScriptedBackend
from parlantish.errors import BackendUnavailableError, UserError
from parlantish.eval import Evaluator, load_suite, read_results
from parlantish.eval.ruler import TokenRuler

from .conftest import comma_sometimes, plan_shaped

CONTRACT = {"scenario", "arm", "sample", "passed", "error", "checks", "text", "usage", "latency_s"}


def evaluator(suite_file, out, backend=None, **options):
    ev = Evaluator(
        load_suite(suite_file), backend or ScriptedBackend(), out, ruler=TokenRuler(), **options
    )
    if backend is None:
        ev.backend = plan_shaped(ev, comma_sometimes)
    return ev


def test_every_sample_is_recorded_with_the_contract_fields(suite_file, tmp_path):
    ev = evaluator(suite_file, tmp_path)
    ev.run()
    records = read_results(tmp_path / "results.jsonl")
    assert len(records) == 2 * 3 * 3  # scenarios x arms x samples
    assert {(r["scenario"], r["arm"], r["sample"]) for r in records} == {
        (s, a, i)
        for s in ("refund", "article")
        for a in ("direct", "cot", "blueprint")
        for i in range(3)
    }
    for record in records:
        assert set(record) >= CONTRACT
        assert record["error"] is None
        assert all({"name", "passed"} <= set(c) for c in record["checks"])
        assert record["passed"] == all(c["passed"] for c in record["checks"])
    article = [r for r in records if r["scenario"] == "article" and r["arm"] == "blueprint"]
    assert all(r["length_units"]["kind"] == "segments" for r in article)
    assert all(len(r["length_units"]["tokens"]) == 3 for r in article)
    # Arms share seeds per scenario and sample (common random numbers).
    seeds = {(r["scenario"], r["sample"]): set() for r in records}
    for r in records:
        seeds[(r["scenario"], r["sample"])].add(r["seed"])
    assert all(len(s) == 1 for s in seeds.values())
    manifest = json.loads((tmp_path / "run.json").read_text())
    assert manifest["suite"]["name"] == "unit-suite" and manifest["samples"] == 3


def test_a_violation_is_located_in_the_unit_where_it_first_appears(suite_file, tmp_path):
    def comma_in_second(plan, rng):
        segments = ["one two three", "four, five", "six seven"]
        return segments if plan.mode == "longform" else " ".join(segments)

    ev = evaluator(suite_file, tmp_path, arms=["blueprint"], samples=1)
    ev.backend = plan_shaped(ev, comma_in_second)
    ev.run()
    (article,) = [r for r in read_results(tmp_path / "results.jsonl") if r["scenario"] == "article"]
    (no_comma,) = [c for c in article["checks"] if c["name"] == "no_comma"]
    assert no_comma["passed"] is False and no_comma["first_violation"] == 2
    assert article["length_units"]["first_violation"] == 2


def test_rerunning_resumes_without_redoing_or_duplicating(suite_file, tmp_path):
    evaluator(suite_file, tmp_path, samples=2).run()
    first = read_results(tmp_path / "results.jsonl")
    again = evaluator(suite_file, tmp_path, samples=3)
    again.run()
    records = read_results(tmp_path / "results.jsonl")
    keys = [r["key"] for r in records]
    assert len(keys) == len(set(keys)) == 18
    assert records[: len(first)] == first  # finished samples untouched
    generated = len(again.backend.requests)
    assert generated == 18 - len(first)  # only the new samples were generated


def test_a_torn_last_line_is_cut_and_its_sample_run_again(suite_file, tmp_path):
    evaluator(suite_file, tmp_path, samples=1).run()
    path = tmp_path / "results.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    ev = evaluator(suite_file, tmp_path, samples=1)
    ev.run()
    assert len(ev.backend.requests) == 1
    records = read_results(path)
    assert len(records) == len(lines) and path.read_text().endswith("\n")


def test_backend_failures_are_recorded_as_errors_never_as_passes(suite_file, tmp_path):
    down = ScriptedBackend([BackendUnavailableError("connection refused")], cycle=True)
    ev = evaluator(suite_file, tmp_path, backend=down, samples=1, transport_retries=1)
    ev.run()
    records = read_results(tmp_path / "results.jsonl")
    assert len(records) == 6
    assert all(r["error"] and r["error_kind"] == "backend" and not r["passed"] for r in records)
    assert len(down.requests) == 12  # each sample tried twice
    # --retry-errors runs exactly those samples again.
    retry = evaluator(suite_file, tmp_path, samples=1, retry_errors=True)
    retry.run()
    records = read_results(tmp_path / "results.jsonl")
    assert len(records) == 6 and all(r["error"] is None for r in records)


def test_transient_failures_are_retried_within_the_sample(suite_file, tmp_path):
    ev = evaluator(suite_file, tmp_path, samples=1, arms=["direct"])
    good = ev.backend
    flaky = ScriptedBackend(
        [BackendUnavailableError("blip"), *[good._function] * 2]  # type: ignore[attr-defined]
    )
    ev.backend = flaky
    ev.run()
    records = read_results(tmp_path / "results.jsonl")
    assert len(records) == 2 and all(r["error"] is None for r in records)


def test_results_of_another_suite_are_refused(suite_file, tmp_path):
    evaluator(suite_file, tmp_path, samples=1).run()
    suite_file.write_text(suite_file.read_text().replace("Refund me now!", "Something else"))
    with pytest.raises(UserError, match="another suite or blueprint"):
        evaluator(suite_file, tmp_path, samples=1).run()


def test_unknown_arm_is_a_user_error(suite_file, tmp_path):
    with pytest.raises(UserError, match="unknown arm 'best'"):
        evaluator(suite_file, tmp_path, arms=["best"])


def test_pool_spreads_by_least_outstanding_and_fails_over(suite_file, tmp_path):
    ev = evaluator(suite_file, tmp_path, samples=2)
    answer = ev.backend._function  # type: ignore[attr-defined]
    fast = ScriptedBackend(answer, delay_s=0.01, model="a")
    dead = ScriptedBackend([BackendUnavailableError("down")], cycle=True, model="b")
    slow = ScriptedBackend(answer, delay_s=0.05, model="c")
    pool = BackendPool([fast, dead, slow], cooldown_s=60)
    ev.backend = pool
    ev.run()
    records = read_results(tmp_path / "results.jsonl")
    assert len(records) == 12 and all(r["error"] is None for r in records)
    stats = {s["backend"]: s for s in pool.stats()}
    assert stats["scripted:b"]["failures"] >= 1 and not stats["scripted:b"]["in_rotation"]
    assert stats["scripted:a"]["completed"] > 0 and stats["scripted:c"]["completed"] > 0
    assert stats["scripted:a"]["completed"] + stats["scripted:c"]["completed"] == 12


def test_a_second_run_on_a_folder_in_use_fails_at_once_naming_the_holder(suite_file, tmp_path):
    from parlantish.eval.lock import OutputLockedError, lock_output

    holder = str(__import__("os").getpid())
    with lock_output(tmp_path), pytest.raises(OutputLockedError, match=holder):
        evaluator(suite_file, tmp_path).run()
    assert not (tmp_path / "results.jsonl").exists() or not read_results(tmp_path / "results.jsonl")
    evaluator(suite_file, tmp_path).run()  # free again: the run goes ahead
    assert len(read_results(tmp_path / "results.jsonl")) == 18
