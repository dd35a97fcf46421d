"""Command line: ``python -m benchmark`` (or ``trmrl-bench``) with the verbs list, run, sweep, config and
results.

Bad input (unknown method, suite or profile; non-positive budget or seed count; malformed override or
results file) prints one line ``benchmark: error: ...`` and exits with status 2, before anything is written.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from pathlib import Path
from typing import Any

from benchmark.errors import BenchmarkError

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a process stopped by Ctrl-C


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors on one line (the house rule for bad input)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise BenchmarkError(f"{message} (see '{self.prog} --help')")


def _int_at_least(minimum: int):
    """An argparse type: an integer >= ``minimum``, with a one-line message otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"must be positive, got {value}" if minimum == 1 else f"must be >= {minimum}, got {value}"
            )
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)

MAX_SEEDS = 10_000
"""more seeds than any study runs; a typo such as --seeds 10000000000 is refused, not allocated"""


def _seed_count(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_SEEDS:
        raise argparse.ArgumentTypeError(f"at most {MAX_SEEDS} seeds, got {value}")
    return value


def _minutes(text: str) -> float:
    """An argparse type: a finite number of minutes >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of minutes, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from benchmark.profiles import CONFIG_TIERS, PROFILES
    from benchmark.registry import METHODS
    from benchmark.run import DEFAULT_RUNS_DIR, REPO_ROOT
    from benchmark.suites import SUITES

    runs_dir = DEFAULT_RUNS_DIR.relative_to(REPO_ROOT).as_posix()  # results/runs, in the checkout
    runs_dir_help = f"the folder that holds one folder per run (default: {runs_dir} in this checkout)"
    parser = _Parser(prog="benchmark", description="Meta-RL benchmark suite around TrMRL (ICML 2022).")
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=_Parser)

    listing = verbs.add_parser("list", help="list suites, methods and profiles")
    listing.add_argument(
        "what",
        nargs="?",
        choices=("suites", "methods", "profiles", "all"),
        default="all",
        help="what to list (default: all)",
    )

    run = verbs.add_parser("run", help="meta-train and evaluate one (method, suite, seed)")
    run.add_argument("--method", required=True, help=f"one of: {', '.join(METHODS)}")
    run.add_argument("--suite", required=True, help=f"one of: {', '.join(SUITES)}")
    run.add_argument("--seed", type=_non_negative_int, default=0, help="run seed (default 0)")
    run.add_argument("--profile", default="smoke", help=f"one of: {', '.join(PROFILES)} (default smoke)")
    run.add_argument("--budget", type=_positive_int, help="meta-training env steps (default: the profile's)")
    _add_set_option(run)
    run.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR, help=runs_dir_help)
    run.add_argument(
        "--force",
        action="store_true",
        help="re-run even if this run already completed (the old folder is moved aside, not deleted)",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        help="torch threads (default 1: one run per core, as in sweeps)",
    )
    _add_runtime_and_eval_options(run)

    sweep = verbs.add_parser("sweep", help="run a grid of methods x suites x seeds (idempotent)")
    sweep.add_argument("--profile", default="smoke", help=f"one of: {', '.join(PROFILES)} (default smoke)")
    sweep.add_argument("--methods", nargs="+", help="methods (default: the profile's)")
    sweep.add_argument("--suites", nargs="+", help="suites (default: the profile's)")
    sweep.add_argument("--seeds", type=_seed_count, help="number of seeds (default: the profile's)")
    sweep.add_argument("--first-seed", type=_non_negative_int, default=0, help="first seed (default 0)")
    sweep.add_argument("--budget", type=_positive_int, help="override every run's env-step budget")
    sweep.add_argument(
        "--executor",
        default="local",
        help="serial | local (one process per run; default) | ray (a Ray cluster; the cluster extra)",
    )
    sweep.add_argument(
        "--workers", type=_positive_int, help="parallel runs for the local executor (default: cores)"
    )
    sweep.add_argument(
        "--address",
        help="ray: the head's HOST:PORT (default: RAY_ADDRESS, a local head, else a new instance)",
    )
    sweep.add_argument(
        "--max-retries",
        type=_non_negative_int,
        default=3,
        help="ray: retries of a run whose worker or node died; it resumes from its checkpoint (default 3)",
    )
    sweep.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR, help=runs_dir_help)
    sweep.add_argument(
        "--dry-run", action="store_true", help="print the grid and its estimated cost (make eta) and exit"
    )
    sweep.add_argument(
        "--yes",
        action="store_true",
        help="start a grid estimated above 1,000 CPU-hours (the paper profile); without it such a sweep "
        "is refused",
    )
    _add_runtime_and_eval_options(sweep)

    config = verbs.add_parser(
        "config", help="print a method's resolved configuration, each value with its source or deviation"
    )
    config.add_argument("--method", required=True, help=f"one of: {', '.join(METHODS)}")
    config.add_argument("--suite", required=True, help=f"one of: {', '.join(SUITES)}")
    config.add_argument(
        "--tier", default="paper", help=f"one of: {', '.join(CONFIG_TIERS)} (default paper: the original's)"
    )
    _add_set_option(config)
    config.add_argument("--json", action="store_true", help="print JSON (value and source per field)")

    status = verbs.add_parser("status", help="list the runs in a runs folder: status, progress, profile")
    status.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR, help=runs_dir_help)
    status.add_argument("--profile", help="only the runs of this profile (default: every profile)")
    status.add_argument(
        "--priced",
        action="store_true",
        help="add each run's estimate by the cost model (make eta) beside its wall time, and the two totals",
    )

    combine = verbs.add_parser(
        "combine",
        help="one table from several merged tables (e.g. yours beside results/reference/quick.parquet)",
    )
    combine.add_argument("tables", nargs="+", type=Path, help="merged results tables (parquet)")
    combine.add_argument("--out", type=Path, required=True, help="the combined table (parquet)")

    results = verbs.add_parser("results", help="merge completed runs into one validated parquet table")
    results.add_argument(
        "--runs-dir", type=Path, default=DEFAULT_RUNS_DIR, help=f"{runs_dir_help}; completed runs are merged"
    )
    out = DEFAULT_RUNS_DIR.parent / "results.parquet"
    results.add_argument(
        "--out",
        type=Path,
        default=out,
        help="the merged results table; <stem>.traces.parquet and <stem>.runs.parquet are written beside it "
        f"(default: {out.relative_to(REPO_ROOT).as_posix()} in this checkout)",
    )
    results.add_argument(
        "--include-incomplete",
        action="store_true",
        help="also merge runs that did not complete (running, interrupted, failed)",
    )
    mixing = results.add_mutually_exclusive_group()
    mixing.add_argument(
        "--profile", help=f"merge only the runs of this profile (one of: {', '.join(PROFILES)})"
    )
    mixing.add_argument(
        "--all-profiles",
        action="store_true",
        help="merge runs of several profiles into one table (their seeds count together)",
    )
    return parser


def _add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field of the method's config (repeatable; typed and checked)",
    )


def _add_runtime_and_eval_options(parser: argparse.ArgumentParser) -> None:
    from benchmark.agent import PRECISIONS
    from benchmark.run import DEFAULT_CHECKPOINT_MINUTES

    parser.add_argument(
        "--device",
        default="auto",
        help="auto | cpu | cuda[:N] (default auto: CUDA where available); recorded, not part of the run id",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=PRECISIONS[0],
        help="fp32 (default) | bf16: bfloat16 autocast in the forward passes and losses of the agent's "
        "updates (PEARL, TrMRL; other methods refuse it), not in acting; part of the run id when not fp32",
    )
    parser.add_argument(
        "--eval-tasks", type=_positive_int, help="N, trials per split at each evaluation (default: profile's)"
    )
    parser.add_argument(
        "--eval-episodes", type=_positive_int, help="K, episodes per evaluation trial (default: profile's)"
    )
    parser.add_argument(
        "--env-workers",
        type=_positive_int,
        default=1,
        help="subprocesses stepping each training batch's environments (default 1: in the run's own "
        "process; same results either way; recorded, not part of the run id)",
    )
    parser.add_argument(
        "--checkpoint-minutes",
        type=_minutes,
        default=DEFAULT_CHECKPOINT_MINUTES,
        help="write a resume point at least this often (minutes of training; 0: every agent iteration), "
        f"besides every evaluation point (default {DEFAULT_CHECKPOINT_MINUTES:g})",
    )
    parser.add_argument(
        "--exploration-episodes",
        "--eval-explore",
        dest="exploration_episodes",
        type=_non_negative_int,
        help="E, exploration episodes per trial, sampled actions (default: the method's, e.g. MAML 1)",
    )


def _list(what: str) -> None:
    from benchmark.profiles import PROFILES
    from benchmark.registry import METHODS
    from benchmark.suites import SUITES

    if what in ("suites", "all"):
        print("suites:")
        for name, entry in SUITES.items():
            print(f"  {name:16s} {entry.description}")
    if what in ("methods", "all"):
        print("methods:")
        for name, method in METHODS.items():
            print(f"  {name:16s} {method.description}")
    if what in ("profiles", "all"):
        from benchmark.cost import describe_profile_cost

        print("profiles:")
        for name, profile in PROFILES.items():
            cost = describe_profile_cost(name)
            print(f"  {name:16s} {profile.description}" + (f"; {cost} (cost model)" if cost else ""))


def _request_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`~benchmark.request.RunRequest` fields that ``run`` and ``sweep`` share, read once."""
    return {
        "budget_env_steps": args.budget,
        "overrides": tuple(getattr(args, "overrides", ())),
        "eval_tasks": args.eval_tasks,
        "eval_episodes": args.eval_episodes,
        "exploration_episodes": args.exploration_episodes,
        "precision": args.precision,
    }


def _run(args: argparse.Namespace) -> None:
    from benchmark.request import RunRequest
    from benchmark.run import execute_run

    # Names, profile and budget are checked before the method's module (and torch) is imported.
    request = RunRequest(args.method, args.suite, args.seed, args.profile, **_request_options(args))
    spec, config = request.resolve()
    import torch

    from benchmark.agent import Runtime

    runtime = Runtime.resolve(args.device, args.threads)
    torch.set_num_threads(args.threads)
    outcome = execute_run(
        spec,
        config,
        args.runs_dir,
        progress=not args.no_progress,
        force=args.force,
        runtime=runtime,
        checkpoint_minutes=args.checkpoint_minutes,
        env_workers=args.env_workers,
    )
    if outcome.status == "skipped":
        print(f"{outcome.run_id}: already completed, skipped ({outcome.run_dir})")
    else:
        print(
            f"{outcome.run_id}: completed {outcome.env_steps} env steps in {outcome.wall_s:.1f} s "
            f"({outcome.train_env_steps_per_s:.0f} env steps/s in meta-training) -> {outcome.run_dir}"
        )


def _estimate(specs: list[Any]) -> Any:
    """The cost model's :class:`~benchmark.cost.Estimate` of ``specs``; None (and a warning) without bench
    figures."""
    from benchmark.cost import DEFAULT_JSON, estimate

    try:
        return estimate(specs)
    except (OSError, ValueError) as exc:
        print(
            f"benchmark: warning: no cost estimate ({exc}; `make bench` measures the rates in "
            f"{DEFAULT_JSON.name})",
            file=sys.stderr,
        )
        return None


def _sweep(args: argparse.Namespace) -> int:
    from benchmark.cost import CONFIRM_CPU_HOURS, describe_cost, format_hours
    from benchmark.executors import ExecutorOptions, check_executor_name
    from benchmark.jobs import RunSettings
    from benchmark.sweep import build_grid, execute_sweep

    jobs = build_grid(
        args.profile, args.methods, args.suites, args.seeds, args.first_seed, **_request_options(args)
    )
    check_executor_name(args.executor)
    specs = [job.resolve()[0] for job in jobs]
    workers = args.workers or os.cpu_count() or 1
    if args.dry_run:
        for job, spec in zip(jobs, specs, strict=True):
            budget = spec.budget_env_steps
            print(f"{job.method} {job.suite} seed={job.seed} profile={job.profile} budget={budget:,}")
        priced = _estimate(specs)
        if priced is not None:
            print(priced.table())
            print(f"estimated on this machine: {describe_cost(priced, workers)}")
        return 0
    priced = _estimate(specs)
    if priced is not None and priced.cpu_hours > CONFIRM_CPU_HOURS and not args.yes:
        raise BenchmarkError(
            f"this sweep is estimated at {format_hours(priced.cpu_hours)} CPU-hours (more than "
            f"{CONFIRM_CPU_HOURS:,.0f}); pass --yes to start it (--dry-run prints the estimate)"
        )
    options = ExecutorOptions(workers=args.workers, address=args.address, max_retries=args.max_retries)
    # execute_sweep refuses a bad device or executor option before any run starts, and catches SIGINT and
    # SIGTERM itself: a stopped sweep ends here with its summary, not with a traceback.
    settings = RunSettings(
        device=args.device,
        checkpoint_minutes=getattr(args, "checkpoint_minutes", None),
        env_workers=args.env_workers,
    )
    report = execute_sweep(jobs, args.runs_dir, args.executor, options, settings)
    print(report.summary(), flush=True)
    for line in report.details():
        print(line, file=sys.stderr)
    return report.exit_status


def _config(args: argparse.Namespace) -> None:
    import json

    from benchmark.config import resolve_config
    from benchmark.provenance import format_record, record_to_json

    config, record = resolve_config(args.method, args.suite, args.tier, args.overrides)
    if args.json:
        print(json.dumps(record_to_json(record), indent=2))
        return
    title = f"{args.method} on {args.suite}, tier {args.tier} ({type(config).__name__})"
    print(format_record(record, title))


def _results(args: argparse.Namespace) -> None:
    import pandas as pd

    from benchmark.results.store import merge_runs, mixed_provenance, runs_path_for

    if args.profile is not None:
        from benchmark.profiles import get_profile

        get_profile(args.profile)  # an unknown name is a one-line error, not an empty merge
    out, runs, rows = merge_runs(
        args.runs_dir, args.out, args.include_incomplete, profile=args.profile, all_profiles=args.all_profiles
    )
    print(f"merged {runs} runs, {rows} rows -> {out}")
    for note in mixed_provenance(pd.read_parquet(runs_path_for(out))):
        print(f"benchmark: warning: the table {note} (see {runs_path_for(out)})", file=sys.stderr)


def _status(args: argparse.Namespace) -> None:
    from benchmark.results.status import cost_check, format_status, priced, status_table

    table = status_table(args.runs_dir, args.profile)
    if args.priced and not table.empty:
        table = priced(table, args.runs_dir)
        print(format_status(table, args.runs_dir))
        print(cost_check(table))
        return
    print(format_status(table, args.runs_dir))


def _combine(args: argparse.Namespace) -> None:
    import pandas as pd

    from benchmark.results.store import combine_tables, mixed_provenance, runs_path_for

    out, runs, rows = combine_tables(args.tables, args.out)
    print(f"combined {runs} runs, {rows} rows from {len(args.tables)} tables -> {out}")
    for note in mixed_provenance(pd.read_parquet(runs_path_for(out))):
        print(f"benchmark: warning: the table {note} (see {runs_path_for(out)})", file=sys.stderr)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    # SystemExit unwinds through the run, which records status "failed" with the reason in its manifest.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    previous_handler = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        args = build_parser().parse_args(argv)
        if args.verb == "list":
            _list(args.what)
        elif args.verb == "run":
            _run(args)
        elif args.verb == "sweep":
            return _sweep(args)
        elif args.verb == "config":
            _config(args)
        elif args.verb == "results":
            _results(args)
        elif args.verb == "status":
            _status(args)
        elif args.verb == "combine":
            _combine(args)
        return 0
    except BenchmarkError as exc:
        print(f"benchmark: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(
            "benchmark: interrupted; a run keeps its resume point (the same command resumes it)",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except (MemoryError, RuntimeError) as exc:
        if not isinstance(exc, MemoryError) and "can't allocate memory" not in str(exc):
            raise  # a defect, not a resource: the traceback is what its author needs
        # A configuration too large for this machine (e.g. --set d_model=4000000): the run is marked failed.
        print(f"benchmark: error: out of memory: {str(exc).splitlines()[0][:200]}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:  # a full disk, a read-only folder: the run is marked failed and resumable
        where = f" {exc.filename}" if exc.filename else ""
        print(f"benchmark: error: cannot write{where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous_handler)  # main() may be called in-process (tests)


if __name__ == "__main__":
    sys.exit(main())
