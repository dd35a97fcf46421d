"""The command line as a user runs it: real simulators, smoke-scale budgets.

Runs, sweeps and merges go through ``python -m benchmark`` subprocesses (the entry point, the process pool,
files on disk); help and bad input call :func:`benchmark.cli.main` in the test's process, where a
subprocess would prove nothing more and cost a second of imports each.
"""

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from benchmark.cli import build_parser, main
from benchmark.results.schema import read_table, read_traces
from tests.help_text import help_problems, verbs

REPO = Path(__file__).resolve().parents[2]
TENSORBOARD = importlib.util.find_spec("tensorboard") is not None
"""whether the optional tracking extra is installed (the run folder then also holds ``tb/``)"""


def cli(*args, check=True):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "benchmark", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def in_process(capsys, *args):
    """``(exit status, stdout, stderr)`` of ``benchmark`` called in this process."""
    try:
        status = main(list(args))
    except SystemExit as exit_:  # argparse's --help
        status = int(exit_.code or 0)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


VERBS = ["list", "run", "sweep", "config", "status", "combine", "results"]


def test_the_verbs_are_the_parsers_verbs():
    assert list(verbs(build_parser())) == VERBS


@pytest.mark.parametrize("verb", VERBS)
def test_every_option_of_every_verb_has_help_with_its_default(capsys, verb):
    status, out, _ = in_process(capsys, verb, "--help")
    assert status == 0 and "usage:" in out
    assert not help_problems(verbs(build_parser())[verb], out)


def test_the_help_check_finds_an_option_without_help_and_an_unstated_default():
    parser = argparse.ArgumentParser(prog="x")
    parser.add_argument("--runs-dir", default="results/runs")
    parser.add_argument("--out", default="a.parquet", help="the table")
    parser.add_argument("--fine", default=3, help="a number (default 3)")
    problems = help_problems(parser, parser.format_help())
    assert problems == ["--runs-dir: no help", "--out: the default 'a.parquet' is not in its help"]


def test_list_names_suites_methods_and_profiles():
    out = cli("list").stdout  # the one check of the installed entry point's plain listing
    for name in ("halfcheetah-vel", "ml45", "point-nav", "random", "smoke", "paper"):
        assert name in out


@pytest.mark.parametrize(
    "suite", ["point-nav", "halfcheetah-vel", pytest.param("ml1-push", marks=pytest.mark.metaworld)]
)
def test_random_run_end_to_end_then_merged_table_loads(tmp_path, suite):
    runs = tmp_path / "runs"
    out = cli(
        "run",
        "--method",
        "random",
        "--suite",
        suite,
        "--seed",
        "0",
        "--profile",
        "smoke",
        "--runs-dir",
        str(runs),
        "--no-progress",
    ).stdout
    assert "completed" in out
    (run_dir,) = [p for p in runs.iterdir() if not p.name.startswith(".")]  # .claims: run locks
    files = {p.name for p in run_dir.iterdir()}
    assert files - {"tb"} == {"metrics.csv", "traces.csv", "progress.csv", "manifest.json", "checkpoint.pt"}
    assert ("tb" in files) == TENSORBOARD  # events only with the tracking extra installed
    assert (
        "already completed"
        in cli(
            "run", "--method", "random", "--suite", suite, "--profile", "smoke", "--runs-dir", str(runs)
        ).stdout
    )
    table_path = tmp_path / "results.parquet"
    assert "merged 1 runs" in cli("results", "--runs-dir", str(runs), "--out", str(table_path)).stdout
    table = read_table(table_path)
    assert set(table["suite"]) == {suite} and set(table["method"]) == {"random"}
    traces = read_traces(tmp_path / "results.traces.parquet")  # beside the results table
    assert set(traces["env_steps"]) == {table["env_steps"].max()}  # the final evaluation point
    assert (pd.read_parquet(table_path)["env_steps"] >= 0).all()


def test_sweep_runs_a_grid_in_parallel_and_resumes(tmp_path):
    runs = tmp_path / "runs"
    args = ("sweep", "--profile", "smoke", "--methods", "random", "--suites", "point-nav", "--seeds", "2")
    args = (*args, "--runs-dir", str(runs))
    assert "2 completed, 0 skipped, 0 failed" in cli(*args, "--workers", "2").stdout
    assert "0 completed, 2 skipped, 0 failed" in cli(*args, "--executor", "serial").stdout
    assert "random point-nav seed=1" in cli(*args, "--dry-run").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "--method", "nope", "--suite", "point-nav"), "unknown method 'nope'"),
        (("run", "--method", "random", "--suite", "nope"), "unknown suite 'nope'"),
        (
            ("run", "--method", "random", "--suite", "point-nav", "--profile", "huge"),
            "unknown profile 'huge'",
        ),
        (("run", "--method", "random", "--suite", "point-nav", "--budget", "0"), "must be positive"),
        (("run", "--method", "random", "--suite", "point-nav", "--budget", "-5"), "must be positive"),
        (("run", "--method", "random", "--suite", "point-nav", "--seed", "x"), "expected an integer"),
        (("run", "--method", "random", "--suite", "point-nav", "--set", "bogus=1"), "has no field 'bogus'"),
        (("sweep", "--seeds", "0"), "--seeds: must be positive"),
        (("sweep", "--suites", "nope"), "unknown suite 'nope'"),
        (("sweep", "--executor", "cloud", "--suites", "point-nav"), "unknown executor 'cloud'"),
        (("frobnicate",), "invalid choice"),
        (("run", "--method", "random", "--suite", "point-nav", "--device", "tpu"), "unknown device"),
        (("run", "--method", "random", "--suite", "point-nav", "--eval-tasks", "0"), "must be positive"),
        (("run", "--method", "trmrl", "--suite", "point-nav", "--set", "discount=1.5"), "discount"),
        (("run", "--method", "trmrl", "--suite", "point-nav", "--set", "policy_lr=-1"), "policy_lr"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(capsys, tmp_path, args, message):
    runs = tmp_path / "runs"
    extra = ("--runs-dir", str(runs)) if args[0] != "frobnicate" else ()
    status, _, err = in_process(capsys, *args, *extra)
    assert status == 2
    assert err.count("\n") == 1 and message in err, err
    assert not runs.exists()


def test_results_on_a_corrupt_run_fails_cleanly_and_keeps_the_table(tmp_path):
    runs = tmp_path / "runs"
    cli("run", "--method", "random", "--suite", "point-nav", "--runs-dir", str(runs), "--no-progress")
    table = tmp_path / "results.parquet"
    cli("results", "--runs-dir", str(runs), "--out", str(table))
    before = table.read_bytes()
    (run_dir,) = [p for p in runs.iterdir() if not p.name.startswith(".")]  # .claims: run locks
    (run_dir / "metrics.csv").write_text("garbage\n1\n")
    result = cli("results", "--runs-dir", str(runs), "--out", str(table), check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "metrics.csv" in result.stderr
    assert table.read_bytes() == before
