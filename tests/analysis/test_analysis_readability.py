"""Figures that read at a glance: what a reader sees (ticks, legends, titles, lines), checked on the drawn
matplotlib objects, and the per-task figure's CSV checked against its definition."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from analysis import references, tables
from analysis.figures import (
    aggregates,
    fast_adaptation,
    online_adaptation,
    ood,
    per_class,
    per_task,
    sample_efficiency,
)
from analysis.figures._common import clip_interval, draw_random_reference
from analysis.style import METHODS, method_styles, new_figure, plot_style
from benchmark.results.schema import COLUMNS, validate


def legend_texts(fig) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def visible_ticks(ax) -> np.ndarray:
    low, high = sorted(ax.get_xlim())
    ticks = np.asarray(ax.get_xticks(), dtype=float)
    return ticks[(ticks >= low - 1e-9) & (ticks <= high + 1e-9)]


def panels(fig) -> list:
    """The axes that hold data (not colour bars)."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


# --------------------------------------------------------------------------------------------------------
# Integer ticks on panels of episodes and steps


@pytest.mark.parametrize("episodes", [1, 2])
def test_panels_of_few_episodes_get_integer_ticks(make_table, episodes):
    df = make_table(seeds=2, tasks=2, episodes=episodes, methods=("trmrl", "random"))
    with plot_style():
        fig = fast_adaptation.draw(fast_adaptation.compute(df))
        fig.canvas.draw()
        for ax in panels(fig):
            ticks = visible_ticks(ax)
            assert ticks.tolist() == list(range(1, episodes + 1)), ax.get_title()


def _traces(episodes: int, horizon: int) -> pd.DataFrame:
    rows = []
    for method in ("trmrl", "random"):
        for seed in (0, 1):
            for step in range(episodes * horizon):
                rows.append(
                    (f"{method}-{seed}", method, "point-nav", "meta_test", seed, 100, 0, 0, None, 0.5)
                    + (step // horizon + 1, step, 0.1 * step + seed)
                )
    columns = ["run_id", "method", "suite", "split", "seed", "env_steps", "trial", "task_id", "task_name",
               "task_param", "episode", "step", "reward"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


@pytest.mark.parametrize("horizon", [1, 5, 9])
def test_online_adaptation_of_one_short_episode_gets_integer_ticks(horizon):
    curves, boundaries = online_adaptation.compute(_traces(1, horizon))
    with plot_style():
        fig = online_adaptation.draw(curves, boundaries)
        fig.canvas.draw()
        (ax,) = panels(fig)
        ticks = visible_ticks(ax)
        assert ticks.size and np.all(ticks == np.round(ticks)), ticks


def test_online_adaptation_title_is_wrapped_to_the_figure():
    curves, boundaries = online_adaptation.compute(_traces(2, 5))
    with plot_style():
        fig = online_adaptation.draw(curves, boundaries)
        fig.canvas.draw()
        title = fig.get_suptitle()
        renderer = fig.canvas.get_renderer()
        width = fig._suptitle.get_window_extent(renderer).width
        assert "\n" in title and width <= fig.bbox.width, (title, width, fig.bbox.width)


# --------------------------------------------------------------------------------------------------------
# The random policy is in every legend


def test_random_is_in_every_legend(synthetic_table):
    df = tables.score_table(synthetic_table)
    curves, boundaries = online_adaptation.compute(_traces(2, 5))
    with plot_style():
        figures = dict(sample_efficiency.draw(df))
        figures["fast_adaptation"] = fast_adaptation.draw(fast_adaptation.compute(df))
        figures["online_adaptation"] = online_adaptation.draw(curves, boundaries)
        bands = per_task.compute(df)
        figures["per_task"] = per_task.draw(bands, ood.train_ranges(df, ["halfcheetah-vel", "point-nav"]))
        bands = ood.compute(df)
        figures["ood"] = ood.draw(bands, ood.train_ranges(df, ["halfcheetah-vel", "point-nav"]))
    for name, fig in figures.items():
        assert any(text.startswith("Random") for text in legend_texts(fig)), (name, legend_texts(fig))


def test_the_random_reference_band_is_shown_in_the_legend():
    """Random's level comes with a shaded band: its legend handle is the band and the line together."""
    with plot_style():
        fig = new_figure(3.0, 2.0)
        ax = fig.add_subplot()
        handle = draw_random_reference(ax, 0.0, -1.0, 1.0, METHODS["random"])
        assert isinstance(handle, tuple) and isinstance(handle[0], Patch) and isinstance(handle[1], Line2D)
        assert isinstance(draw_random_reference(ax, 0.0, np.nan, np.nan, METHODS["random"]), Line2D)


# --------------------------------------------------------------------------------------------------------
# OOD: meta-test and ood parts are never one line


def test_ood_segments_split_at_empty_bins_and_never_span_splits():
    band = pd.DataFrame(
        {
            "param": [0.25, 0.75, 1.75, 2.25],
            "param_low": [0.0, 0.5, 1.5, 2.0],
            "param_high": [0.5, 1.0, 2.0, 2.5],
        }
    )
    segments = ood.split_segments(band)
    assert [s["param"].tolist() for s in segments] == [[0.25, 0.75], [1.75, 2.25]]
    distinct = band.assign(param_low=band["param"], param_high=band["param"])
    assert len(ood.split_segments(distinct)) == 1


def test_ood_figure_draws_meta_test_and_ood_as_separate_lines(synthetic_table):
    df = tables.score_table(synthetic_table)
    bands = ood.compute(df)
    with plot_style():
        fig = ood.draw(bands, ood.train_ranges(df, ["halfcheetah-vel", "point-nav"]))
    checked = 0
    for ax, suite in zip(panels(fig), ["point-nav", "halfcheetah-vel"], strict=True):
        mine = bands[bands["suite"] == suite]
        splits = {s: set(np.round(mine.loc[mine["split"] == s, "param"], 9)) for s in ("meta_test", "ood")}
        for line in ax.get_lines():
            x = np.asarray(line.get_xdata(), dtype=float)
            x = set(np.round(x[np.isfinite(x)], 9))
            if len(x) < 2 or not x <= splits["meta_test"] | splits["ood"]:
                continue  # reference lines (random's 0, axis spans)
            assert x <= splits["meta_test"] or x <= splits["ood"], (suite, sorted(x))
            checked += 1
    assert checked >= 2 * 3  # both splits of every plotted method on both suites


# --------------------------------------------------------------------------------------------------------
# Per-class heat map: the title says which classes are shown


def _class_rows(split: str, names: list[str], method: str, seed: int) -> list[dict]:
    return [
        {
            "run_id": f"{method}-{seed}",
            "method": method,
            "suite": "ml45",
            "split": split,
            "seed": seed,
            "env_steps": 1000,
            "trial": i,
            "task_id": i,
            "task_name": name,
            "episode": 1,
            "metric": "success",
            "value": float(i % 2),
        }
        for i, name in enumerate(names)
    ]


def test_per_class_titles_name_the_classes_shown_and_the_figure_has_a_sane_shape():
    test_classes = ["bin-picking-v3", "box-close-v3", "door-lock-v3", "door-unlock-v3", "hand-insert-v3"]
    train_classes = ["assembly-v3", "basketball-v3", "button-press-v3"]
    rows = []
    for method in ("trmrl", "rl2", "random"):
        for seed in (0, 1):
            rows += _class_rows("meta_test", test_classes, method, seed)
            rows += _class_rows("meta_train", train_classes, method, seed)
    frame = pd.DataFrame(rows)
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    table = per_class.compute(validate(frame[list(COLUMNS)]))
    with plot_style():
        fig = per_class.draw(table)
        fig.canvas.draw()
    titles = [ax.get_title(loc="left") for ax in panels(fig)]
    assert "the 5 held-out test classes" in titles[0].replace("\n", " ")
    assert "3 of the 45 training classes (only these were evaluated" in titles[1].replace("\n", " ")
    width, height = fig.get_size_inches()
    assert 0.5 <= width / height <= 2.5, (width, height)  # not a 2217 x 392 strip
    assert set(table["interval"].str.contains("Clopper-Pearson")) == {True}
    assert not table["interval"].str.contains("exact").any()


# --------------------------------------------------------------------------------------------------------
# Interval labels say what the interval is, and intervals stay in the statistic's range


def test_clip_interval_says_what_it_clipped():
    assert clip_interval(-0.2, 0.5, "t", (0.0, np.inf)) == (
        0.0,
        0.5,
        "t, clipped at 0 (the least possible value)",
    )
    assert clip_interval(0.1, 0.5, "t", (0.0, np.inf)) == (0.1, 0.5, "t")
    assert clip_interval(-5.0, 120.0, "t", (0.0, 100.0))[2] == "t, clipped to [0, 100] (the possible range)"
    low, high, name = clip_interval(np.nan, np.nan, "none (1 run)", (0.0, 100.0))
    assert np.isnan(low) and np.isnan(high) and name == "none (1 run)"


def test_aggregate_intervals_stay_in_range_and_clopper_pearson_is_called_conservative(synthetic_table):
    df = tables.score_table(synthetic_table)
    final = tables.final_scores(df, "meta_test")
    # Upper references at TrMRL's median final score: its optimality gap is near 0, and the t interval
    # around it would reach below 0, a gap no method can have.
    median = final[final["method"] == "trmrl"].groupby("suite")["score"].median()
    refs = {
        s: dataclasses.replace(r, upper=float(median[s])) if s in median else r
        for s, r in references.load().items()
    }
    result = aggregates.compute(df, seed=0, reps=200, refs=refs)
    gap = result.tables["aggregates"].set_index(["metric", "method"]).loc["optimality_gap"]
    assert (gap["ci_low"] >= 0).all()
    assert gap.loc["trmrl", "ci_low"] == 0 and gap.loc["trmrl", "interval"].endswith(
        "clipped at 0 (the least possible value)"
    )
    for name in ("probability_of_improvement", "performance_profiles"):
        table = result.tables[name]
        assert table["interval"].str.startswith("95% conservative Clopper-Pearson").all(), name
        assert not table["interval"].str.contains("exact").any(), name
        assert ((table["ci_low"] >= 0) & (table["ci_high"] <= 1)).all(), name
    with plot_style():
        fig = aggregates._poi_figure(
            result.tables["probability_of_improvement"],
            method_styles(result.methods),
            result.suites,
            result.left_out,
        )
    assert "conservative Clopper-Pearson" in fig.axes[0].get_title()
    assert "exact" not in fig.axes[0].get_title()


def test_success_rate_bands_stay_in_0_100(synthetic_table):
    bands = sample_efficiency.compute(synthetic_table)
    push = bands[bands["suite"] == "ml1-push"]
    assert ((push["ci_low"] >= 0) & (push["ci_high"] <= 100)).all()
    clipped = push["interval"].str.contains("clipped")
    assert clipped.any()  # a symmetric t band around a rate near 0 % or 100 % reaches past it
    assert push.loc[clipped, "interval"].str.endswith("clipped to [0, 100] (the possible range)").all()


# --------------------------------------------------------------------------------------------------------
# Per-task curves: the CSV holds exactly the plotted numbers, and they are what they say


def test_per_task_csv_is_the_definition(synthetic_table, tmp_path):
    df = tables.score_table(synthetic_table)
    written = per_task.make(df, tmp_path, pdf=False)
    assert {p.name for p in written} == {"per_task.png", "per_task.csv"}
    csv = pd.read_csv(tmp_path / "per_task.csv")
    assert list(csv.columns) == per_task.COLUMNS
    # Suites with a parameter of 3+ values only (ml1-push has none), meta-test and ood, every method.
    assert set(csv["suite"]) == {"halfcheetah-vel", "point-nav"}
    assert set(csv["split"]) == {"meta_test", "ood"}
    assert set(csv["method"]) == {"trmrl", "rl2", "my_agent", "random"}
    # Up to MAX_POINTS points per method, on its own grid, up to the suite's common final point (my_agent
    # stops at 80k, so the others are compared at 75k, as in every other figure), the last one "final".
    trmrl = csv[(csv["method"] == "trmrl") & (csv["suite"] == "point-nav")]
    assert sorted(set(trmrl["env_steps"])) == [0, 25_000, 50_000, 75_000]
    assert set(trmrl.loc[trmrl["env_steps"] == 75_000, "evaluation"]) == {"final"}
    assert per_task.selected_points([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) == [0, 3, 7, 10]
    assert sorted(set(csv.loc[csv["method"] == "my_agent", "env_steps"])) == [0, 40_000, 80_000]
    # Intervals only where a band is drawn (the final point); the random reference has no steps.
    earlier = csv[csv["evaluation"] == "earlier"]
    assert earlier["ci_low"].isna().all() and earlier["interval"].str.startswith("not drawn").all()
    final = csv[csv["evaluation"] == "final"]
    assert final["ci_low"].notna().all() and final["interval"].str.startswith("95% Student-t").all()
    assert csv.loc[csv["method"] == "random", "env_steps"].isna().all()
    # The bins are the ood figure's bins.
    ood_bins = ood.compute(df)[["suite", "split", "param"]].round({"param": 4}).drop_duplicates()
    mine = csv.loc[csv["evaluation"] == "final", ["suite", "split", "param"]].round({"param": 4})
    mine = mine.drop_duplicates()
    merged = mine.merge(ood_bins.assign(found=True), how="left", on=["suite", "split", "param"])
    assert merged["found"].notna().all()
    # One number by hand: trmrl, point-nav, ood, final point, first bin = mean over seeds of the mean over
    # that seed's ood tasks in the bin of the last-episode return.
    row = final[(final["suite"] == "point-nav") & (final["split"] == "ood") & (final["method"] == "trmrl")]
    row = row.sort_values("param").iloc[0]
    raw = synthetic_table
    last = raw[
        (raw["method"] == "trmrl")
        & (raw["suite"] == "point-nav")
        & (raw["split"] == "ood")
        & (raw["metric"] == "return")
        & (raw["env_steps"] == 75_000)
        & (raw["episode"] == raw["episode"].max())
        & (raw["task_param"] >= row["param_low"] - 1e-6)
        & (raw["task_param"] <= row["param_high"] + 1e-6)
    ]
    expected = last.groupby("seed")["value"].mean()
    assert row["n_runs"] == expected.size and row["n_tasks"] == len(last)
    assert row["mean"] == pytest.approx(expected.mean(), rel=1e-5)


def test_per_task_without_a_parametric_suite_is_a_placeholder(synthetic_table, tmp_path):
    df = synthetic_table[synthetic_table["suite"] == "ml1-push"].reset_index(drop=True)
    per_task.make(df, tmp_path, pdf=False)
    assert pd.read_csv(tmp_path / "per_task.csv").empty
    assert (tmp_path / "per_task.png").exists()
