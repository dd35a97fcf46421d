"""``python -m analysis`` as a user runs it: files, one-line errors with status 2, no heavy imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from analysis.cli import build_parser, main
from benchmark.results.schema import write_table
from tests.help_text import help_problems

ROOT = Path(__file__).resolve().parents[2]
# benchmark.suites (the suite catalog) imports gymnasium's spaces, not a simulator.
HEAVY = ("torch", "mujoco", "metaworld")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def table_path(tmp_path_factory, synthetic_table) -> Path:
    return write_table(synthetic_table, tmp_path_factory.mktemp("results") / "results.parquet")


def test_help():
    result = run_cli("--help")
    assert result.returncode == 0
    for option in ("--results", "--out", "--seed", "--reps", "--figures"):
        assert option in result.stdout


def test_every_option_has_help_and_no_line_says_default_none(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and "usage:" in out
    assert not help_problems(build_parser(), out)
    assert "(default: None)" not in out and "(default: False)" not in out
    assert "(default: results/results.parquet)" in out and "(default: 5000)" in out


def test_cli_writes_figures_and_report_without_importing_simulators(table_path, tmp_path):
    # One subprocess for both checks: the whole pipeline runs, and torch/simulators never get imported.
    out = tmp_path / "out"
    argv = ["--results", str(table_path), "--out", str(out), "--reps", "50", "--no-pdf"]
    code = (
        "import sys\n"
        "import analysis.cli\n"
        f"status = analysis.cli.main({argv!r})\n"
        f"print(status, sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "0 []"
    names = {p.name for p in out.iterdir()}
    for name in (
        "sample_efficiency",
        "ood_sample_efficiency",
        "online_adaptation",
        "fast_adaptation",
        "ood",
        "per_class_success",
        "paired_differences",
        "aggregates",
        "probability_of_improvement",
    ):
        assert {f"{name}.png", f"{name}.csv"} <= names
    report = (out / "report.md").read_text()
    assert "results.parquet" in report and "![Sample efficiency](sample_efficiency.png)" in report
    # Success rates show their exact interval, never a Student-t one that can leave [0, 100].
    success_rows = [line for line in report.splitlines() if line.startswith("| ml1-push: success")]
    assert success_rows and "trials, pooled CP [" in success_rows[0] and "[-" not in success_rows[0]


def assert_one_line_error(capsys, argv: list[str], *fragments: str) -> None:
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_missing_column_as_a_subprocess(synthetic_table, tmp_path):
    path = tmp_path / "results.csv"
    synthetic_table.drop(columns=["value"]).head(50).to_csv(path, index=False)
    result = run_cli("--results", str(path), "--out", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "missing column" in result.stderr and "'value'" in result.stderr


def test_missing_table(capsys, tmp_path):
    assert_one_line_error(capsys, ["--results", str(tmp_path / "nope.parquet")], "no such results file")


def test_malformed_column(capsys, synthetic_table, tmp_path):
    path = tmp_path / "results.csv"
    bad = synthetic_table.head(50).astype({"env_steps": "object"})
    bad.loc[3, "env_steps"] = "a lot"
    bad.to_csv(path, index=False)
    assert_one_line_error(capsys, ["--results", str(path), "--out", str(tmp_path)], "'env_steps'")


def test_unreadable_file(capsys, tmp_path):
    path = tmp_path / "results.parquet"
    path.write_text("not parquet\nat all\n")
    assert_one_line_error(capsys, ["--results", str(path)], "not a readable results file")


def test_table_without_meta_test_evaluations(capsys, synthetic_table, tmp_path):
    path = write_table(synthetic_table[synthetic_table["split"] == "ood"], tmp_path / "results.parquet")
    assert_one_line_error(
        capsys, ["--results", str(path), "--out", str(tmp_path)], "no meta_test evaluations"
    )


def test_bad_reps(capsys, table_path, tmp_path):
    assert_one_line_error(
        capsys, ["--results", str(table_path), "--out", str(tmp_path), "--reps", "0"], "--reps"
    )
