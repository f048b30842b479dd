"""The cluster options of ``parlantish eval``, and the pieces of a cluster run that need no
Ray: option checks before anything starts, cluster addresses, core binding, the report's
throughput per replica (recounted from the rows), and the summary lines."""

import builtins
from datetime import datetime, timedelta, timezone

import pytest

from parlantish.cli import evaluate
from parlantish.errors import UserError
from parlantish.eval.analysis import build_report
from parlantish.eval.cluster import RayCluster, import_ray, parse_cluster
from parlantish.reports.table import throughput_lines

from .test_eval_cli import backends, run, suite_file  # noqa: F401 - fixtures


def test_an_unknown_cluster_fails_before_anything_starts(suite_file, tmp_path, backends, capsys):  # noqa: F811
    code, _, err = run(
        ["eval", str(suite_file), "--out", str(tmp_path / "o"), "--cluster", "slurm"], capsys
    )
    assert code == 1 and backends == []
    assert "unknown cluster 'slurm'" in err and "ray://HOST:PORT" in err
    assert not (tmp_path / "o").exists()


def test_a_missing_ray_says_how_to_install_it(monkeypatch):
    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(UserError) as raised:
        import_ray()
    assert "parlantish[ray]" in (raised.value.hint or "")


@pytest.mark.parametrize(
    ("value", "address"),
    [("ray", None), ("ray://auto", "auto"), ("ray://10.0.0.7:6379", "10.0.0.7:6379")],
)
def test_cluster_addresses(value, address):
    assert parse_cluster(value) == address


@pytest.mark.parametrize("value", ["", "ray://", "ray://head", "Ray", "ray://a b:1", "ray:6379"])
def test_bad_cluster_addresses(value):
    with pytest.raises(UserError, match="unknown cluster"):
        parse_cluster(value)


def test_bad_replica_settings():
    with pytest.raises(UserError, match="at least 1"):
        RayCluster(replicas=0)
    with pytest.raises(UserError, match="negative"):
        RayCluster(cpus=-1)


def test_local_cpu_replicas_bind_disjoint_cores(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)

    def started(**options):
        cluster = RayCluster(**options)
        cluster.started_cluster = True  # a local cluster this run started
        return cluster

    two = started(replicas=2, cpus=2)
    assert [two._cores(i) for i in range(2)] == [[0, 1], [2, 3]]
    assert started(replicas=3, cpus=2)._cores(0) is None  # cores cannot be split so
    assert started(replicas=2, cpus=0.5)._cores(0) is None  # fractions share cores
    assert started(replicas=2, gpus=1)._cores(0) is None  # GPU engines
    assert RayCluster(replicas=2, cpus=2)._cores(0) is None  # a cluster it joined


@pytest.mark.parametrize("option", ["--replicas", "--cpus-per-replica", "--gpus-per-replica"])
def test_replica_options_need_a_cluster(option, suite_file, tmp_path, backends, capsys):  # noqa: F811
    code, _, err = run(["eval", str(suite_file), "--out", str(tmp_path / "o"), option, "2"], capsys)
    assert code == 2 and f"{option} needs --cluster" in err


def test_cluster_options_reach_the_cluster(suite_file, tmp_path, backends, capsys, monkeypatch):  # noqa: F811
    made = []

    class Recorded(RayCluster):
        def __init__(self, backend, **options):
            super().__init__(backend, **options)
            made.append((backend, options))

        async def start(self, evaluator):
            raise UserError("stopped here: the test checks the options only")

    monkeypatch.setattr(evaluate, "RayCluster", Recorded)
    args = ["eval", str(suite_file), "--out", str(tmp_path / "o"), "--cluster", "ray://auto"]
    args += ["--replicas", "3", "--cpus-per-replica", "2", "--gpus-per-replica", "0.5"]
    code, _, err = run([*args, "--backend", "http://h:1/v1"], capsys)
    assert code == 1 and "stopped here" in err
    assert made == [
        (["http://h:1/v1"], {"replicas": 3, "address": "auto", "cpus": 2.0, "gpus": 0.5})
    ]
    assert backends == []  # nothing resolved in this process


def _row(key, replica, tokens, finished, latency):
    return {
        "schema_version": 1,
        "key": key,
        "suite": "s",
        "scenario": "a",
        "arm": "direct",
        "arm_kind": "direct",
        "sample": 0,
        "seed": 1,
        "temperature": 0.7,
        "max_tokens": 64,
        "messages_hash": "h",
        "plan_key": "p",
        "blueprint": {"name": "b", "hash": "h"},
        "backend": "scripted",
        "passed": True,
        "usage": {"prompt_tokens": 1, "completion_tokens": tokens, "total_tokens": tokens + 1},
        "latency_s": latency,
        "finished_at": finished.isoformat(),
        "replica": replica,
    }


def test_the_report_counts_throughput_per_replica_and_in_all():
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows = [
        _row("a", 0, 100, t0 + timedelta(seconds=10), 10.0),
        _row("b", 0, 50, t0 + timedelta(seconds=20), 5.0),
        _row("c", 1, 300, t0 + timedelta(seconds=30), 6.0),
    ]
    report = build_report(rows)
    by_replica = {r.replica: r for r in report.replicas}
    assert by_replica[0].records == 2 and by_replica[0].completion_tokens == 150
    assert by_replica[0].span_s == 20.0 and by_replica[0].tokens_per_s == 7.5
    assert by_replica[1].span_s == 6.0 and by_replica[1].tokens_per_s == 50.0
    total = report.throughput
    assert total is not None and total.records == 3 and total.span_s == 30.0
    assert total.tokens_per_s == pytest.approx(450 / 30, abs=1e-3)
    lines = throughput_lines(report.model_dump(mode="json"))
    assert lines[0].startswith("replica 0: 2 rows, 150 tokens, 7.5 tok/s")
    assert lines[-1] == "run total: 3 rows, 450 tokens, 15.0 tok/s"


def test_a_local_run_has_no_replica_lines():
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    report = build_report([_row("a", None, 10, t0, 0.2)])
    assert report.replicas == []
    assert report.throughput is not None and report.throughput.tokens_per_s is None  # < 1 s
    assert throughput_lines(report.model_dump(mode="json")) == []
