"""``parlantish eval``: run a consistency suite; ``parlantish report``: rebuild its reports.

Everything that can be wrong with a command line (suite, blueprints, arms, options) is found
before a model loads, and a run whose samples are all saved prints its report without starting
an engine at all.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from parlantish.backends import Backend, resolve_backend
from parlantish.cli.options import allow_root_option, sampling_options
from parlantish.core.types import GenerationRequest, GenerationResult
from parlantish.eval.cluster import RayCluster, import_ray, parse_cluster
from parlantish.eval.folder import folder_conflicts
from parlantish.eval.runner import Evaluator, WorkItem
from parlantish.eval.runner import Progress as RunProgress
from parlantish.eval.store import RESULTS_FILE, read_results
from parlantish.eval.suite import load_suite
from parlantish.reports import print_summary, rebuild_reports

__all__ = ["eval_command", "report_command"]


def _arms(value: str | None) -> list[str] | None:
    return [a.strip() for a in value.split(",") if a.strip()] if value else None


class _NotStarted(Backend):
    """Stands in for the backend while a run is validated and planned (nothing generates)."""

    name = "not started"

    async def agenerate(self, request: GenerationRequest) -> GenerationResult:
        raise AssertionError("the backend is resolved before anything is generated")


def run_is_finished(items: list[WorkItem], out: str | Path, *, retry_errors: bool) -> bool:
    """True when OUT/results.jsonl holds every planned sample, compiled the same way (and,
    with ``retry_errors``, none of them a backend error): then there is nothing to generate."""
    records = {r.get("key"): r for r in read_results(Path(out) / RESULTS_FILE)}
    for item in items:
        first = records.get(item.record_keys[0])
        if first is None or first.get("plan_key") != item.plan.key:
            return False
        for key in item.record_keys:
            record = records.get(key)
            if record is None or (retry_errors and record.get("error_kind") == "backend"):
                return False
    return True


@click.command("eval")
@click.argument("suite", type=click.Path(dir_okay=False))
@allow_root_option
@click.option(
    "--out", "out", required=True, type=click.Path(file_okay=False), help="Output folder."
)
@click.option(
    "--backend",
    "backends",
    multiple=True,
    metavar="SPEC",
    help="'embedded', a model folder, or a vLLM URL; repeat (or separate with commas) to "
    "spread requests over several servers.  [default: embedded, or $PARLANTISH_BACKEND]",
)
@click.option(
    "--samples", type=click.IntRange(1, 10_000), default=None, help="Per scenario and arm."
)
@click.option("--arms", default=None, help="Comma-separated arm names (default: the suite's).")
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="Only the first K scenarios."
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 4096),
    default=None,
    help="Requests in flight (per replica in a cluster run).",
)
@click.option(
    "--transport-retries",
    type=click.IntRange(0, 20),
    default=3,
    show_default=True,
    help="Retries of a sample's request after a retryable backend error.",
)
@click.option(
    "--retry-errors", is_flag=True, help="Run again the samples recorded with backend errors."
)
@click.option(
    "--force-new",
    is_flag=True,
    help="Start over when OUT holds another run's results (they are moved to "
    "OUT/previous-<time>/).",
)
@click.option(
    "--skip-bad",
    is_flag=True,
    help="Multi-IF CSV: leave out (and list) bad rows instead of stopping at the first.",
)
@click.option(
    "--cluster",
    default=None,
    metavar="ray[://ADDRESS]",
    help="Run the samples on engine replicas on a Ray cluster: 'ray' starts a local one for "
    "the run, 'ray://ADDRESS' joins a running one (needs the ray extra).",
)
@click.option(
    "--replicas",
    type=click.IntRange(1, 4096),
    default=None,
    help="Engine replicas on the cluster (each runs --backend).  [default: 1]",
)
@click.option(
    "--cpus-per-replica",
    type=click.FloatRange(0, 4096),
    default=None,
    help="CPUs each replica reserves on the cluster.  [default: 1]",
)
@click.option(
    "--gpus-per-replica",
    type=click.FloatRange(0, 64),
    default=None,
    help="GPUs each replica reserves on the cluster.  [default: 0]",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--temperature", type=click.FloatRange(0, 5), default=None, help="Override the suite's."
)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=None,
    help="Most tokens of each visible reply, overriding the suite's.",
)
@sampling_options
def eval_command(
    suite: str,
    out: str,
    backends: tuple[str, ...],
    samples: int | None,
    arms: str | None,
    limit: int | None,
    concurrency: int | None,
    transport_retries: int,
    retry_errors: bool,
    force_new: bool,
    skip_bad: bool,
    cluster: str | None,
    replicas: int | None,
    cpus_per_replica: float | None,
    gpus_per_replica: float | None,
    quiet: bool,
    temperature: float | None,
    max_tokens: int | None,
    sampling: dict[str, Any],
) -> None:
    """Run SUITE (a suite file, an IFEval-format .jsonl, or a Multi-IF .csv of multi-turn
    conversations) with and without blueprints and write OUT/results.jsonl, report.json,
    report.html and junit.xml. Re-running resumes. Exit code 1 when a threshold fails."""
    basics = {"temperature": temperature, "max_tokens": max_tokens}
    sampling |= {name: value for name, value in basics.items() if value is not None}
    loaded = load_suite(suite, skip_bad=skip_bad).with_sampling(sampling)
    for bad in loaded.bad_rows:
        Console(stderr=True).print(f"skipped {bad}", soft_wrap=True, highlight=False, markup=False)
    specs = list(backends) or [os.environ.get("PARLANTISH_BACKEND", "embedded")]
    address = parse_cluster(cluster) if cluster is not None else None
    if cluster is None:
        given = {"--replicas": replicas, "--cpus-per-replica": cpus_per_replica}
        given["--gpus-per-replica"] = gpus_per_replica
        for name, value in given.items():
            if value is not None:
                raise click.UsageError(f"{name} needs --cluster ray[://ADDRESS]")

    def evaluator_on(backend: Backend | RayCluster) -> Evaluator:
        return Evaluator(
            loaded,
            backend,
            out,
            samples=samples,
            arms=_arms(arms),
            limit=limit,
            concurrency=concurrency,
            transport_retries=transport_retries,
            retry_errors=retry_errors,
            force_new=force_new,
        )

    # Arms are checked and every sample compiled before a backend exists: a typo or a bad
    # scenario fails in a second, not after the engine's start.
    planner = evaluator_on(_NotStarted())
    items = planner.plan()
    conflicts = folder_conflicts(out, items, planner.identity())
    if conflicts and not force_new:
        planner.check_folder(items)  # names the conflicts, before any model loads
    err = Console(stderr=True)
    if not conflicts and run_is_finished(items, out, retry_errors=retry_errors):
        err.print(
            f"all {len(items)} samples are saved in {out}: nothing to generate",
            soft_wrap=True,
            highlight=False,
        )
    else:
        if cluster is not None:
            import_ray()  # a missing extra fails here, before anything starts
            engines: Backend | RayCluster = RayCluster(
                specs,
                replicas=replicas or 1,
                address=address,
                cpus=1.0 if cpus_per_replica is None else cpus_per_replica,
                gpus=gpus_per_replica or 0.0,
            )
        else:
            engines = resolve_backend(specs)
        evaluator = evaluator_on(engines)
        try:
            if quiet or not err.is_terminal:
                asyncio.run(evaluator.arun())
            else:
                _run_with_progress(evaluator, err)
        except KeyboardInterrupt:
            done = len(read_results(Path(out) / RESULTS_FILE))
            err.print(
                f"interrupted: {done} samples are saved in {out}; run the same command to resume",
                soft_wrap=True,
                highlight=False,
            )
            raise
    report = rebuild_reports(out)
    print_summary(report)
    click.echo(f"report: {Path(out, 'report.html').resolve()}")
    if not report["thresholds"]["passed"]:
        sys.exit(1)


def _run_with_progress(evaluator: Evaluator, console: Console) -> None:
    columns: Any = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("pass {task.fields[rate]}"),
        TextColumn("{task.fields[speed]} tok/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("eval", total=None, rate="-", speed="-")

        def update(progress: RunProgress) -> None:
            bar.update(
                task,
                total=progress.total,
                completed=progress.done,
                rate=f"{progress.pass_rate:.2f}",
                speed=f"{progress.tokens_per_s:.0f}",
            )

        evaluator.on_progress = update
        asyncio.run(evaluator.arun())


@click.command("report")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--quiet", is_flag=True, help="Do not print the summary.")
def report_command(out: str, quiet: bool) -> None:
    """Rebuild OUT's report.json, report.html and junit.xml from OUT/results.jsonl. Exit code 1
    when a threshold fails."""
    report = rebuild_reports(out)
    if not quiet:
        print_summary(report)
        click.echo(f"report: {Path(out, 'report.html').resolve()}")
    if not report["thresholds"]["passed"]:
        sys.exit(1)
