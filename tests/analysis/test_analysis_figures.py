"""Every figure builder on the synthetic results table: its files, their stability, and the edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import references, report, stats, tables
from analysis.figures import aggregates, ood, registry, sample_efficiency
from analysis.style import FALLBACK_PALETTE, METHODS, MIN_COLOR_DISTANCE, color_distance, method_styles
from benchmark.errors import ResultsSchemaError

REPS = 200
PLOTS = {
    "sample_efficiency": ["sample_efficiency", "ood_sample_efficiency"],
    "fast_adaptation": ["fast_adaptation"],
    "ood": ["ood"],
    "per_class": ["per_class_success"],
    "per_task": ["per_task"],
    "paired": ["paired_differences"],
    "inference": ["auc"],
    "aggregates": ["aggregates", "probability_of_improvement", "performance_profiles"],
}


SCORE_FIGURES = tuple(f.name for f in registry.FIGURES if f.reads == "scores")


def build_all(
    df, out: Path, seed: int = 0, *, pdf: bool = True, only: tuple[str, ...] = SCORE_FIGURES
) -> list[Path]:
    df = tables.score_table(df)  # reduce once, as the CLI does
    written = []
    for name in only:
        written += registry.figure(name).load()(df, out, seed=seed, reps=REPS, pdf=pdf)
    return written + report.make(df, out, seed=seed, reps=REPS)


def test_the_registry_lists_every_file_each_builder_writes():
    """One list: the registry's outputs per figure are the files the tests expect each builder to write."""
    for figure in registry.FIGURES:
        if figure.name in PLOTS:
            assert [o.file for o in figure.outputs] == PLOTS[figure.name], figure.name


@pytest.fixture(scope="module")
def built(tmp_path_factory, synthetic_table):
    out = tmp_path_factory.mktemp("figures")
    return out, build_all(synthetic_table, out)


def read(out: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / f"{name}.csv")


def test_every_builder_writes_png_pdf_and_csv(built):
    out, written = built
    for figure, plots in PLOTS.items():
        for plot in plots:
            for suffix in ("png", "pdf", "csv"):
                path = out / f"{plot}.{suffix}"
                assert path in written, f"{figure} did not write {path.name}"
                assert path.stat().st_size > 0
        assert (out / f"{plots[0]}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("report.md", "final_numbers.csv", "normalization.csv", "ood_train_ranges.csv"):
        assert out / name in written


def test_outputs_are_byte_identical_across_runs(built, synthetic_table, tmp_path):
    out, written = built
    build_all(synthetic_table, tmp_path)
    for path in written:
        assert path.read_bytes() == (tmp_path / path.name).read_bytes(), f"{path.name} differs between runs"


def test_a_different_seed_changes_bootstrap_intervals_not_estimates(built, synthetic_table, tmp_path):
    out, _ = built
    aggregates.make(synthetic_table, tmp_path, seed=1, reps=REPS, pdf=False)
    a, b = read(out, "aggregates"), read(tmp_path, "aggregates")
    pd.testing.assert_series_equal(a["estimate"], b["estimate"])
    assert not a["ci_low"].equals(b["ci_low"])


def test_an_unseen_method_appears_everywhere(built):
    out, _ = built
    for name in (
        "sample_efficiency",
        "fast_adaptation",
        "ood",
        "aggregates",
        "performance_profiles",
        "final_numbers",
    ):
        assert "my_agent" in set(read(out, name)["method"]), name
    assert "my_agent" in set(read(out, "probability_of_improvement")["method_y"])
    assert "my_agent" in (out / "report.md").read_text()
    style = method_styles(["trmrl", "my_agent"])["my_agent"]
    assert style.label == "my_agent" and style.color in FALLBACK_PALETTE
    assert all(color_distance(style.color, s.color) >= MIN_COLOR_DISTANCE for s in METHODS.values())


def test_each_method_is_plotted_on_its_own_grid(built):
    curves = read(built[0], "sample_efficiency")

    def grid(method: str) -> list[int]:
        mine = curves[(curves["method"] == method) & (curves["suite"] == "point-nav")]
        return sorted(set(mine["env_steps"]))

    assert grid("my_agent") == [0, 40_000, 80_000]
    assert grid("trmrl") == [0, 25_000, 50_000, 75_000, 100_000]


def test_sample_efficiency_numbers(built, synthetic_table):
    curves = read(built[0], "sample_efficiency")
    assert set(curves["suite"]) == {"halfcheetah-vel", "ml1-push", "point-nav"}
    assert (curves["ci_low"] <= curves["mean"] + 1e-9).all() and (
        curves["mean"] <= curves["ci_high"] + 1e-9
    ).all()
    push = curves[curves["suite"] == "ml1-push"]
    assert set(push["score"]) == {"success rate (%)"} and push["mean"].between(0, 100).all()
    # By hand: trmrl on halfcheetah-vel at the last grid point = mean over seeds of the mean over tasks of
    # the last episode's return.
    rows = synthetic_table
    last = rows[
        (rows["method"] == "trmrl")
        & (rows["suite"] == "halfcheetah-vel")
        & (rows["split"] == "meta_test")
        & (rows["metric"] == "return")
        & (rows["env_steps"] == 100_000)
        & (rows["episode"] == 3)
    ]
    expected = last.groupby("seed")["value"].mean().mean()
    got = curves[(curves["method"] == "trmrl") & (curves["suite"] == "halfcheetah-vel")]["mean"].iloc[-1]
    assert got == pytest.approx(expected, rel=1e-5)


def test_fast_adaptation_has_every_episode(built):
    table = read(built[0], "fast_adaptation")
    assert sorted(set(table["episode"])) == [1, 2, 3]
    trmrl = table[(table["method"] == "trmrl") & (table["suite"] == "halfcheetah-vel")].set_index("episode")
    assert trmrl.loc[3, "mean"] > trmrl.loc[1, "mean"]  # the synthetic TrMRL adapts within a trial


def test_ood_skips_suites_without_ood_and_shades_the_training_range(built):
    out, _ = built
    table = read(out, "ood")
    assert set(table["suite"]) == {"halfcheetah-vel", "point-nav"}  # ml1-push has no ood split
    assert set(table["split"]) == {"meta_test", "ood"}
    ranges = read(out, "ood_train_ranges").set_index("suite")
    assert tuple(ranges.loc["halfcheetah-vel", ["low", "high"]]) == (0.0, 3.0)


def test_ood_training_range_from_the_table_excludes_a_held_out_sector():
    rows = pd.DataFrame(
        {
            "method": "m",
            "suite": "my-suite-2d",
            "run_id": "r",
            "seed": 0,
            "split": ["meta_test"] * 3 + ["ood"] * 2,
            "env_steps": 0,
            "task_id": [0, 1, 2, 0, 1],
            "episode": 1,
            "task_param": [0.1, 2.0, 6.0, 3.0, 3.9],
            "value": 0.0,
        }
    )
    ranges = ood.train_ranges(tables.ScoreTable(rows), ["my-suite-2d"])
    assert ranges[["low", "high"]].to_numpy().tolist() == [[0.1, 3.0], [3.9, 6.0]]


def test_aggregates_normalize_by_fixed_references(built):
    out, _ = built
    norm = read(out, "normalization").set_index("suite")
    refs = references.load()
    for suite in ("halfcheetah-vel", "ml1-push", "point-nav"):
        assert norm.loc[suite, "lower"] == pytest.approx(refs[suite].lower, rel=1e-5)
        assert norm.loc[suite, "upper"] == pytest.approx(refs[suite].upper, rel=1e-5)
    assert norm.loc["ml1-push", "upper"] == 100
    assert norm["aggregated"].all()
    agg = read(out, "aggregates")
    assert set(agg["metric"]) == set(stats.AGGREGATES)
    assert agg["interval"].str.contains("Student-t").all()
    mean = agg[agg["metric"] == "mean"].set_index("method")["estimate"]
    assert mean["trmrl"] > mean["rl2"] > mean["random"]
    poi = read(out, "probability_of_improvement")
    assert set(poi["method_x"]) == {"trmrl"} and set(poi["method_y"]) == {"rl2", "my_agent", "random"}
    assert poi["probability"].between(0, 1).all() and (poi["n_pairs"] == 9).all()  # 3 suites x 3 seeds
    profiles = read(out, "performance_profiles")
    for _, profile in profiles.groupby("method"):
        assert (np.diff(profile.sort_values("tau")["fraction_above"]) <= 0).all()  # non-increasing in tau


def test_adding_a_method_leaves_other_intervals_unchanged(synthetic_table):
    without = synthetic_table[synthetic_table["method"] != "my_agent"].reset_index(drop=True)
    a = sample_efficiency.compute(synthetic_table)
    b = sample_efficiency.compute(without)
    a = a[a["method"] != "my_agent"].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_a_single_seed_prints_no_interval(make_table, tmp_path):
    df = make_table(seeds=1, tasks=2, episodes=2)
    written = build_all(df, tmp_path, pdf=False, only=("sample_efficiency", "fast_adaptation", "ood"))
    assert all(p.exists() for p in written)
    for name in ("sample_efficiency", "fast_adaptation", "ood", "final_numbers"):
        table = read(tmp_path, name)
        assert table["ci_low"].isna().all() and table["ci_high"].isna().all(), name
        assert set(table["interval"]) == {"none (1 run)"}, name
    assert "(no interval)" in (tmp_path / "report.md").read_text()


def test_a_method_missing_a_suite(synthetic_table, tmp_path):
    df = synthetic_table[
        ~((synthetic_table["method"] == "my_agent") & (synthetic_table["suite"] == "point-nav"))
    ]
    build_all(df.reset_index(drop=True), tmp_path, pdf=False, only=("sample_efficiency", "aggregates"))
    curves = read(tmp_path, "sample_efficiency")
    assert "point-nav" not in set(curves.loc[curves["method"] == "my_agent", "suite"])
    agg = read(tmp_path, "aggregates")
    # 3 methods x 3 suites outweigh 4 methods x 2 suites: my_agent is left out, the suites are kept
    assert set(agg["n_suites"]) == {3} and "my_agent" not in set(agg["method"])
    assert read(tmp_path, "normalization")["aggregated"].all()


def test_tables_without_ood_or_trmrl_give_placeholder_figures(synthetic_table, tmp_path):
    df = synthetic_table[(synthetic_table["split"] != "ood") & (synthetic_table["method"] != "trmrl")]
    written = build_all(df.reset_index(drop=True), tmp_path, pdf=False, only=("ood", "aggregates"))
    assert (tmp_path / "ood.png") in written
    assert read(tmp_path, "ood").empty
    assert read(tmp_path, "probability_of_improvement").empty
    assert not read(tmp_path, "aggregates").empty


def test_a_single_method_is_normalized_by_the_fixed_references(synthetic_table, tmp_path):
    df = synthetic_table[synthetic_table["method"] == "rl2"].reset_index(drop=True)
    build_all(df, tmp_path, pdf=False, only=("aggregates",))
    norm = read(tmp_path, "normalization").set_index("suite")
    assert norm["aggregated"].all()  # fixed references: one method is enough
    assert set(read(tmp_path, "aggregates")["n_suites"]) == {3}


def test_a_malformed_table_is_a_clear_error(synthetic_table, tmp_path):
    with pytest.raises(ResultsSchemaError, match="missing column"):
        aggregates.make(synthetic_table.drop(columns=["value"]), tmp_path)
    bad = synthetic_table.astype({"seed": "object"})
    bad.loc[0, "seed"] = "seven"
    with pytest.raises(ResultsSchemaError, match="'seed'"):
        sample_efficiency.make(bad, tmp_path)
    unknown_split = synthetic_table.copy()
    unknown_split.loc[0, "split"] = "validation"
    with pytest.raises(ResultsSchemaError, match="unknown split"):
        tables.score_table(unknown_split)


def test_the_aggregates_bootstrap_runs_once_for_the_figures_and_the_report(
    synthetic_table, tmp_path, monkeypatch
):
    calls = []  # one bootstrap calls aggregate_ci once per method and aggregate metric, and nothing else does
    real = stats.aggregate_ci
    monkeypatch.setattr(stats, "aggregate_ci", lambda *a, **k: calls.append(1) or real(*a, **k))
    table = tables.score_table(synthetic_table)
    aggregates.make(table, tmp_path, seed=0, reps=REPS, pdf=False)
    once = len(calls)
    assert once == len(aggregates.compute(table, seed=0, reps=REPS).methods) * len(stats.AGGREGATES) > 0
    report.make(table, tmp_path, seed=0, reps=REPS)
    assert len(calls) == once
    aggregates.make(table, tmp_path, seed=1, reps=REPS, pdf=False)  # another seed is another bootstrap
    assert len(calls) == 2 * once


def test_a_method_run_on_fewer_suites_is_left_out_of_the_aggregates_not_shrinking_them(synthetic_table):
    """One method run on one suite must not reduce every method's aggregates to that suite: the largest
    block of methods x suites is kept, and the method outside it is named (figures' notes, report)."""
    partial = synthetic_table[
        (synthetic_table["method"] != "my_agent") | (synthetic_table["suite"] == "point-nav")
    ]
    full = aggregates.compute(synthetic_table.reset_index(drop=True), seed=0, reps=200)
    result = aggregates.compute(partial.reset_index(drop=True), seed=0, reps=200)
    assert result.suites == full.suites == ["halfcheetah-vel", "ml1-push", "point-nav"]
    assert "my_agent" not in result.methods and set(result.methods) == set(full.methods) - {"my_agent"}
    assert result.left_out == {"my_agent": "ran 1 of the 3 aggregated suites"}
    assert set(result.tables["aggregates"]["n_suites"]) == {3}
    assert "my_agent (ran 1 of the 3 aggregated suites)" in aggregates.suites_note(
        result.suites, result.left_out
    )
    status = result.tables["normalization"].set_index("suite")
    assert status["aggregated"].all()


def test_a_table_of_the_random_policy_alone_draws_every_figure(synthetic_table, tmp_path):
    """A new user's first table is often random's alone: every builder must cope (placeholders where a
    figure needs a learner)."""
    df = synthetic_table[synthetic_table["method"] == "random"].reset_index(drop=True)
    written = build_all(df, tmp_path, pdf=False)
    assert (tmp_path / "per_task.png") in written and read(tmp_path, "per_task").empty


def test_a_suite_whose_methods_ran_budgets_far_apart_gets_a_panel_up_to_where_all_have_been(synthetic_table):
    """The metaworld profile's shape (TrMRL and PEARL at 1M, the others at 5M): the shorter runs' curves
    would fill a fifth of a shared axis, so the suite gets a second panel up to the shortest run's last
    point; suites whose methods share a budget keep one panel."""
    from analysis.style import plot_style

    def titles(table) -> list[str]:
        with plot_style():
            figure = sample_efficiency.draw(table)["sample_efficiency"]
        return [ax.get_title() for ax in figure.axes if ax.get_title()]

    assert not any("which every method ran" in t for t in titles(synthetic_table))
    rows = synthetic_table
    short = (rows["method"] == "trmrl") & (rows["suite"] == "halfcheetah-vel") & (rows["env_steps"] > 25_000)
    mixed = rows[~short]
    shown = titles(mixed)
    zoomed = [t for t in shown if "which every method ran" in t]
    assert zoomed == ["halfcheetah-vel · the first 25k env steps, which every method ran"]
    assert len(shown) == len(titles(synthetic_table)) + 1
    with plot_style():
        figure = sample_efficiency.draw(mixed)["sample_efficiency"]
    axis = next(ax for ax in figure.axes if ax.get_title() == zoomed[0])
    assert axis.get_xlim()[1] == pytest.approx(25_000 * 1.03)
    # every line stops at 25k (random's horizontal reference spans the axes, x in [0, 1])
    assert all(max(line.get_xdata(), default=0) <= 25_000 for line in axis.get_lines())
    assert any(max(line.get_xdata(), default=0) == 25_000 for line in axis.get_lines())
