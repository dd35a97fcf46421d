"""Adding a baseline: a new agent folder plus one registry line, and nothing else.

The test writes a new method package (a copy of ``baselines/_template``) into a temporary folder, adds its
one line to the registry, and checks that it runs in a sweep, lands in the merged results and appears in
every figure's data, without any other file of the project knowing about it.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from benchmark import registry

REPO = Path(__file__).resolve().parents[2]
FIGURE_CSVS_WITH_METHODS = (
    "sample_efficiency.csv",
    "fast_adaptation.csv",
    "final_numbers.csv",
    "paired_differences.csv",
)


@pytest.fixture
def new_baseline(tmp_path, monkeypatch):
    package = tmp_path / "my_baselines" / "coinflip"
    shutil.copytree(REPO / "baselines" / "_template", package)
    (package.parent / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    # The one line a user adds to benchmark/registry.py:
    monkeypatch.setitem(
        registry.METHODS,
        "coinflip",
        registry.MethodEntry("my_baselines.coinflip.agent:TemplateAgent", "a copied template"),
    )
    yield "coinflip"
    for name in [m for m in sys.modules if m.startswith("my_baselines")]:
        del sys.modules[name]


def test_a_new_folder_and_one_registry_line_reach_sweeps_results_and_every_figure(tmp_path, new_baseline):
    from analysis.cli import run as draw
    from benchmark.results.store import merge_runs
    from benchmark.sweep import build_grid, execute_sweep

    jobs = build_grid("smoke", methods=[new_baseline, "random"], suites=["point-nav"], seeds=2)
    assert {job.method for job in jobs} == {new_baseline, "random"}
    runs = tmp_path / "runs"
    report = execute_sweep(jobs, runs, "serial")
    assert report.exit_status == 0
    out, n_runs, _ = merge_runs(runs, tmp_path / "results.parquet")
    assert n_runs == 4
    assert new_baseline in set(pd.read_parquet(out)["method"])
    figures = tmp_path / "figures"
    draw(out, figures, reps=200, pdf=False)
    for name in FIGURE_CSVS_WITH_METHODS:
        table = pd.read_csv(figures / name)
        assert new_baseline in set(table.astype(str).stack()), name
    assert new_baseline in (figures / "report.md").read_text()
