"""Sequential verdicts by simulation: samples used against a fixed-N test at equal error rates,
and the empirical error rates against the promised ones. Pure CPU, no model.

For each design (min_pass_rate, margin, confidence 0.95) the fixed-sample test is the smallest
one with both error rates at most 5% (exact binomial tails); the sequential test
(``parlantish.eval.sequential.SequentialPlan``) may draw up to 1.5 times that. Bernoulli
agents with pass rates around the threshold are tested many times each, through the plan's own
``decide``. Ends with one JSON line of the figures.

    python bench/sequential.py [--runs 20000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from parlantish.eval.sequential import SequentialPlan, fixed_sample_size, samples_needed

DESIGNS = [(0.8, 0.1), (0.9, 0.1), (0.95, 0.05), (0.7, 0.2), (1.0, 0.1)]
CONFIDENCE = 0.95
HEADROOM = 1.5
TARGET_SAVING = 0.4


def decision_table(plan: SequentialPlan) -> np.ndarray:
    """``table[n, k]``: 1 pass, -1 fail, 0 continue, from ``plan.decide``."""
    table = np.zeros((plan.max_samples + 1, plan.max_samples + 1), dtype=np.int8)
    for n in range(1, plan.max_samples + 1):
        for k in range(n + 1):
            verdict = plan.decide(k, n)
            table[n, k] = 0 if verdict is None else (1 if verdict == "pass" else -1)
    return table


def simulate(
    plan: SequentialPlan, table: np.ndarray, p: float, runs: int, rng: np.random.Generator
) -> tuple[float, float]:
    """The fraction of runs that passed, and the mean samples used, at pass rate ``p``."""
    draws = rng.random((runs, plan.max_samples)) < p
    successes = np.cumsum(draws, axis=1)
    n = np.arange(1, plan.max_samples + 1)
    verdicts = table[n, successes]  # runs × max_samples
    decided = verdicts != 0
    stop = decided.argmax(axis=1)  # the last column always decides
    final = verdicts[np.arange(runs), stop]
    return float((final == 1).mean()), float((stop + 1).mean())


def rates_around(p_good: float, p_bad: float, margin: float) -> list[float]:
    grid = [p_bad - margin, p_bad, (p_bad + p_good) / 2, p_good, p_good + margin]
    return sorted({round(min(1.0, max(0.0, p)), 4) for p in grid})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20_000, help="simulated tests per pass rate")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    error = 1 - CONFIDENCE
    tolerance = 3 * math.sqrt(error * (1 - error) / args.runs)  # Monte Carlo noise
    designs = []
    for min_pass_rate, margin in DESIGNS:
        p_bad = round(max(0.0, min_pass_rate - margin), 10)
        fixed, cut = fixed_sample_size(min_pass_rate, p_bad, error, error)
        plan = SequentialPlan.for_threshold(
            min_pass_rate, margin, CONFIDENCE, math.ceil(HEADROOM * fixed)
        )
        table = decision_table(plan)
        promised_alpha, promised_beta = plan.error_rates
        rows = []
        for p in rates_around(min_pass_rate, p_bad, margin):
            passed, used = simulate(plan, table, p, args.runs, rng)
            exact = plan.operating_point(p)
            rows.append(
                {
                    "p": p,
                    "pass": round(passed, 4),
                    "pass_exact": round(exact.pass_probability, 4),
                    "samples": round(used, 1),
                    "samples_exact": round(exact.expected_samples, 1),
                }
            )
        at_good = next(r for r in rows if r["p"] == round(min_pass_rate, 4))
        at_bad = next(r for r in rows if r["p"] == round(p_bad, 4))
        # Beyond the hypotheses the errors are smaller still (passing grows with p).
        alpha_seen = max(1 - r["pass"] for r in rows if r["p"] >= round(min_pass_rate, 4))
        beta_seen = max(r["pass"] for r in rows if r["p"] <= round(p_bad, 4))
        mean_used = sum(r["samples"] for r in rows) / len(rows)
        designs.append(
            {
                "min_pass_rate": min_pass_rate,
                "margin": margin,
                "fixed_n": fixed,
                "fixed_cut": cut,
                "max_samples": plan.max_samples,
                "samples_needed": samples_needed(min_pass_rate, margin, CONFIDENCE),
                "promised_alpha": round(promised_alpha, 4),
                "promised_beta": round(promised_beta, 4),
                "empirical_alpha": round(1 - at_good["pass"], 4),
                "empirical_beta": round(at_bad["pass"], 4),
                "worst_alpha_seen": round(alpha_seen, 4),
                "worst_beta_seen": round(beta_seen, 4),
                "mean_samples": round(mean_used, 1),
                "saving": round(1 - mean_used / fixed, 3),
                "rates": rows,
            }
        )
    within = all(
        d["worst_alpha_seen"] <= d["promised_alpha"] + tolerance
        and d["worst_beta_seen"] <= d["promised_beta"] + tolerance
        and d["promised_alpha"] <= error + 1e-9
        and d["promised_beta"] <= error + 1e-9
        for d in designs
    )
    small = SequentialPlan.for_threshold(0.8, 0.1, CONFIDENCE, 20)
    for d in designs:
        print(
            f"min_pass_rate {d['min_pass_rate']:.2f} margin {d['margin']:.2f}: fixed N "
            f"{d['fixed_n']}, sequential at most {d['max_samples']}, mean samples "
            f"{d['mean_samples']} ({d['saving']:.0%} fewer); alpha {d['empirical_alpha']:.4f} "
            f"(promised {d['promised_alpha']:.4f}), beta {d['empirical_beta']:.4f} "
            f"(promised {d['promised_beta']:.4f})"
        )
        for r in d["rates"]:
            print(
                f"    p={r['p']:.3f}: passes {r['pass']:.4f} (exact {r['pass_exact']:.4f}), "
                f"samples {r['samples']} (exact {r['samples_exact']})"
            )
    savings = [d["saving"] for d in designs]
    figures = {
        "confidence": CONFIDENCE,
        "runs_per_rate": args.runs,
        "headroom": HEADROOM,
        "mean_saving": round(sum(savings) / len(savings), 3),
        "min_saving": min(savings),
        "target_saving": TARGET_SAVING,
        "max_empirical_alpha": max(d["worst_alpha_seen"] for d in designs),
        "max_empirical_beta": max(d["worst_beta_seen"] for d in designs),
        "max_promised_alpha": max(d["promised_alpha"] for d in designs),
        "max_promised_beta": max(d["promised_beta"] for d in designs),
        "monte_carlo_tolerance": round(tolerance, 4),
        "errors_within_promise": within,
        "error_rates_at_20_samples_0.8_margin_0.1": [round(e, 3) for e in small.error_rates],
        "designs": [{k: v for k, v in d.items() if k != "rates"} for d in designs],
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
