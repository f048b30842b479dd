import io

from rich.console import Console

from parlantish.reports.table import print_summary, verdict


def _arm(pass_rate, n=12):
    return {
        "n": n,
        "pass_rate": pass_rate,
        "ci": [max(0.0, pass_rate - 0.3), min(1.0, pass_rate + 0.3)],
        "errors": 0,
        "consistency": {"pass_hat_k": [pass_rate, pass_rate**2, pass_rate**3, pass_rate**4]},
        "cost": {"completion_tokens_mean": 187.4},
        "length": {
            "outputs": n,
            "e": 0.0123,
            "lr_test": {"df": 2, "p_value": 0.4321},
            "conclusion": "errors compound at a constant rate: not rejected (p=0.432)",
        },
    }


def _comparison(arm, baseline, rate, base_rate, p):
    return {
        "arm": arm,
        "baseline": baseline,
        "pass_rate": rate,
        "baseline_pass_rate": base_rate,
        "difference": rate - base_rate,
        "difference_ci": [rate - base_rate - 0.1, rate - base_rate + 0.1],
        "mcnemar": {"p_value": p},
        "sign_test": {"p_value": p},
    }


def _report(arm_names=("direct", "cot", "blueprint"), thresholds=()):
    return {
        "run": {"suite": {"name": "consistency-demo"}},
        "arms": {name: _arm(0.25 + 0.25 * i) for i, name in enumerate(arm_names)},
        "comparisons": [
            _comparison("blueprint", "direct", 0.75, 0.25, 0.004),
            _comparison("blueprint", "cot", 0.75, 0.5, 0.31),
        ],
        "thresholds": {"results": list(thresholds), "passed": all(t["passed"] for t in thresholds)},
    }


def _render(report, width=80):
    out = io.StringIO()
    print_summary(report, Console(file=out, width=width, color_system=None))
    return out.getvalue().splitlines()


def test_the_verdict_comes_first():
    lines = _render(_report())
    assert lines[0] == "verdict: thresholds passed"
    assert lines[1].strip().startswith("blueprint vs direct: passes more often (0.75 vs 0.25")
    assert "blueprint vs cot: no significant difference" in lines[2]
    failing = _report(thresholds=[{"name": "pass_rate.blueprint", "passed": False, "actual": 0.5}])
    assert verdict(failing).startswith("verdict: thresholds FAILED (pass_rate.blueprint)")


def test_the_table_fits_80_columns_and_folds_instead_of_cutting():
    long_name = "blueprint-with-a-rather-long-arm-name"
    lines = _render(_report(arm_names=("direct", "cot", long_name)))
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    assert "…" not in text
    for header in ("arm", "pass rate (95% CI)", "pass^4", "errors", "tokens", "e/token", "LR p"):
        assert header in text
    assert "0.75 [0.45, 1.00]" in text
    # The long arm name is folded over the first column's lines, every character kept.
    start = next(i for i, line in enumerate(lines) if line.startswith(" blueprint-"))
    folded = "".join(line.split()[0] for line in lines[start : start + 5] if line.strip())
    assert folded.startswith(long_name)


def test_big_counts_and_small_p_values_still_fit_80_columns():
    report = _report(arm_names=("direct", "enforced"))
    for arm in report["arms"].values():
        arm["n"] = 10_000
        arm["length"]["e"] = 0.00123
        arm["length"]["lr_test"]["p_value"] = 0.007581
        arm["cost"]["completion_tokens_mean"] = 1234.5
    lines = _render(report)
    header = next(line for line in lines if "pass rate (95% CI)" in line)
    assert header.rstrip().endswith("LR p") and max(len(line) for line in lines) <= 80
    row = next(line for line in lines if line.startswith(" enforced"))
    assert row.split()[-3:] == ["1234", "0.0012", "0.0076"]
