"""The verbs over results: merging one profile of a runs folder, listing a folder's runs, combining tables."""

from __future__ import annotations

import pandas as pd
import pytest

from benchmark.cli import main


def test_a_folder_of_two_profiles_merges_one_profile_or_all_when_asked(tmp_path, capsys):
    runs = tmp_path / "runs"
    base = ["run", "--method", "random", "--suite", "point-nav", "--no-progress", "--runs-dir", str(runs)]
    assert main([*base, "--profile", "smoke"]) == 0
    assert main([*base, "--profile", "quick", "--budget", "400", "--eval-tasks", "2"]) == 0
    out = tmp_path / "results.parquet"
    capsys.readouterr()
    assert main(["results", "--runs-dir", str(runs), "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "quick, smoke" in error[0] and "--profile" in error[0]
    assert not out.exists()
    assert main(["results", "--runs-dir", str(runs), "--out", str(out), "--profile", "smoke"]) == 0
    runs_table = pd.read_parquet(tmp_path / "results.runs.parquet")
    assert list(runs_table["profile"]) == ["smoke"]
    assert main(["results", "--runs-dir", str(runs), "--out", str(out), "--all-profiles"]) == 0
    assert sorted(pd.read_parquet(tmp_path / "results.runs.parquet")["profile"]) == ["quick", "smoke"]
    assert main(["results", "--runs-dir", str(runs), "--out", str(out), "--profile", "paper"]) == 2
    assert main(["results", "--runs-dir", str(runs), "--out", str(out), "--profile", "nope"]) == 2


def run_random(runs, seed, *extra):
    base = ["run", "--method", "random", "--suite", "point-nav", "--no-progress", "--runs-dir", str(runs)]
    assert main([*base, "--seed", str(seed), *extra]) == 0


def test_status_lists_each_run_with_its_profile_and_progress(tmp_path, capsys):
    runs = tmp_path / "runs"
    run_random(runs, 0)
    run_random(runs, 1, "--profile", "quick", "--budget", "400", "--eval-tasks", "2")
    (runs / "broken-run").mkdir()
    (runs / "broken-run" / "manifest.json").write_text("{not json")
    capsys.readouterr()
    assert main(["status", "--runs-dir", str(runs)]) == 0
    out = capsys.readouterr().out
    assert "3 runs in" in out and "2 completed" in out and "1 unreadable manifest" in out
    assert "quick" in out and "smoke" in out and "100%" in out
    assert main(["status", "--runs-dir", str(runs), "--profile", "quick"]) == 0
    assert "1 runs in" in capsys.readouterr().out
    assert main(["status", "--runs-dir", str(tmp_path / "nowhere")]) == 2


def test_status_priced_sets_the_cost_models_estimate_beside_each_runs_wall_time(tmp_path, capsys):
    from benchmark.cost import MachineRates, price
    from benchmark.request import resolve_run
    from benchmark.results.status import estimated_hours

    runs = tmp_path / "runs"
    run_random(runs, 0)
    (runs / "broken-run").mkdir()
    (runs / "broken-run" / "manifest.json").write_text("{not json")
    capsys.readouterr()
    assert main(["status", "--runs-dir", str(runs), "--priced"]) == 0
    out = capsys.readouterr().out
    spec, _ = resolve_run("random", "point-nav", 0, "smoke")
    expected = price(spec, MachineRates.load()).seconds / 3600
    (run_dir,) = [p for p in runs.iterdir() if p.name.startswith("random__")]
    assert estimated_hours(run_dir, MachineRates.load()) == pytest.approx(expected)
    assert "estimated_h" in out and "unreadable manifest" in out, out
    last = out.strip().splitlines()[-1]
    assert last.startswith("1 completed runs:") and f"says {expected:.3f} CPU-hours" in last, last


def test_combine_puts_tables_side_by_side_and_refuses_a_run_counted_twice(tmp_path, capsys):
    for seed in (0, 1):
        run_random(tmp_path / f"runs{seed}", seed)
        out = tmp_path / f"t{seed}.parquet"
        assert main(["results", "--runs-dir", str(tmp_path / f"runs{seed}"), "--out", str(out)]) == 0
    combined = tmp_path / "both.parquet"
    assert (
        main(["combine", str(tmp_path / "t0.parquet"), str(tmp_path / "t1.parquet"), "--out", str(combined)])
        == 0
    )
    assert sorted(pd.read_parquet(combined)["seed"].unique()) == [0, 1]
    assert sorted(pd.read_parquet(tmp_path / "both.runs.parquet")["seed"]) == [0, 1]
    assert pd.read_parquet(tmp_path / "both.traces.parquet")["run_id"].nunique() == 2
    capsys.readouterr()
    twice = ["combine", str(tmp_path / "t0.parquet"), str(combined), "--out", str(tmp_path / "x.parquet")]
    assert main(twice) == 2 and "is in both" in capsys.readouterr().err
    assert main(["combine", str(combined), "--out", str(combined)]) == 2
    assert not (tmp_path / "x.parquet").exists()
