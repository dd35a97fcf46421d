"""Sample efficiency (the paper's main curves): score against environment steps, on meta_test and on ood.

* ``sample_efficiency``: one panel per suite, meta-test score, one line per method at that method's own
  ``env_steps`` grid points (no interpolation); mean over runs with a light 95 % Student-t band over runs
  (no band from a single run; a success rate's band clipped to [0, 100], and its ``interval`` says so),
  every line over every band, each method with its own marker and line style; a suite whose methods ran
  budgets 3x apart or more gets a second panel up to the point every method reached. The random policy
  does not learn: it is drawn as a horizontal reference at the mean of all its evaluations (its band shown
  in the legend too). The score is the last episode's return (success rate in percent for Meta-World) of
  each trial; see :mod:`analysis.tables`.
* ``ood_sample_efficiency``: the paper's OOD curve (return on the ood tasks against training env steps),
  beside the meta-test curve of the same suite, for every suite with an ``ood`` split.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from analysis import stats, tables
from analysis.figures._common import (
    RANDOM,
    draw_band,
    draw_random_reference,
    fix_score_axis,
    mean_over_runs,
    panel_title,
    random_levels,
    success_bounds,
    suite_panels,
)
from analysis.style import (
    empty_figure,
    legend_below,
    method_styles,
    new_figure,
    plot_style,
    save_figure,
    steps_axis,
    suite_order,
    suptitle,
    write_csv,
)

NAME = "sample_efficiency"
OOD_NAME = "ood_sample_efficiency"
SPLITS = ("meta_test", "ood")


def compute(df: tables.Table, *, split: str = "meta_test"):
    """The plotted numbers: ``suite, split, score, method, env_steps, n_runs, mean, ci_low, ci_high,
    interval`` (``seed`` and ``reps`` are unused: Student-t intervals need no resampling)."""
    scores = tables.evaluation_scores(tables.score_table(df), split)
    bands = mean_over_runs(scores, ["suite", "method", "env_steps"], "score", bounds=success_bounds)
    bands.insert(1, "split", split)
    bands.insert(2, "score", [tables.score_name(str(s)) for s in bands["suite"]])
    return bands


def _random(df: tables.ScoreTable, split: str) -> pd.DataFrame:
    return random_levels(tables.evaluation_scores(df, split), ["suite"])


def _ood_figure(bands: pd.DataFrame, randoms: dict[str, pd.DataFrame]):
    suites = suite_order(bands.loc[bands["split"] == "ood", "suite"].unique())
    if not suites:
        return empty_figure("no suite has ood evaluations in the results table")
    styles = method_styles(bands["method"].unique())
    fig = new_figure(8.4, 2.9 * len(suites) + 0.6)
    grid = fig.subplots(len(suites), 2, squeeze=False)
    legend: dict[str, object] = {}
    for row, suite in zip(grid, suites, strict=True):
        for ax, split in zip(row, SPLITS, strict=True):
            mine = bands[(bands["suite"] == suite) & (bands["split"] == split)]
            for method, style in styles.items():
                if method == RANDOM:
                    level = randoms[split]
                    level = level[level["suite"] == suite]
                    if not level.empty:
                        r = level.iloc[0]
                        legend.setdefault(
                            method, draw_random_reference(ax, r["mean"], r["ci_low"], r["ci_high"], style)
                        )
                    continue
                band = mine[mine["method"] == method]
                if not band.empty:
                    x = band["env_steps"].to_numpy(dtype=float)
                    legend.setdefault(method, draw_band(ax, x, band, style, label=style.label))
            ax.set_title(f"{split.replace('_', '-')}: " + panel_title(suite, mine), fontsize=9)
            ax.set_ylabel(tables.score_label(suite, split))
            steps_axis(ax)
            fix_score_axis(ax, suite)
    ordered = [m for m in styles if m in legend]
    labels = [styles[m].label + (" (mean of all evaluations)" if m == RANDOM else "") for m in ordered]
    legend_below(fig, [legend[m] for m in ordered], labels)
    suptitle(fig, "Sample efficiency on meta-test and on ood tasks (mean over runs, 95 % Student-t band)")
    return fig


def numbers(df: tables.Table) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    """``(bands, ood_bands, randoms)``: the two figures' numbers and the random policy's level per split."""
    df = tables.score_table(df)
    bands = compute(df)
    ood_bands = pd.concat([bands, compute(df, split="ood")], ignore_index=True)
    ood_suites = set(ood_bands.loc[ood_bands["split"] == "ood", "suite"])
    ood_bands = ood_bands[ood_bands["suite"].isin(ood_suites)]
    return bands, ood_bands, {split: _random(df, split) for split in SPLITS}


def draw(df: tables.Table) -> dict[str, Figure]:
    """Both figures, by file name (call inside :func:`analysis.style.plot_style`)."""
    return _draw(*numbers(df))


def _draw(
    bands: pd.DataFrame, ood_bands: pd.DataFrame, randoms: dict[str, pd.DataFrame]
) -> dict[str, Figure]:
    def label_axes(ax, suite: str) -> None:
        ax.set_ylabel(tables.score_label(suite))
        steps_axis(ax)

    main = suite_panels(
        bands,
        "env_steps",
        label_axes=label_axes,
        title="Sample efficiency on meta-test tasks (mean over runs, 95 % Student-t band over runs)",
        random=randoms["meta_test"],
        zoom_mixed_budgets=True,
    )
    return {NAME: main, OOD_NAME: _ood_figure(ood_bands, randoms)}


def make(
    df: tables.Table, out_dir: str | Path, seed: int = 0, reps: int = stats.DEFAULT_REPS, *, pdf: bool = True
) -> list[Path]:
    """Write ``sample_efficiency`` and ``ood_sample_efficiency`` (PNG, PDF, CSV) into ``out_dir``."""
    out_dir = Path(out_dir)
    df = tables.score_table(df)
    bands, ood_bands, randoms = numbers(df)
    paths: list[Path] = []
    with plot_style():
        for name, fig in _draw(bands, ood_bands, randoms).items():
            paths += save_figure(fig, out_dir, name, pdf=pdf)
    paths.append(write_csv(bands, out_dir, NAME, ["suite", "method", "env_steps"]))
    paths.append(write_csv(ood_bands, out_dir, OOD_NAME, ["suite", "split", "method", "env_steps"]))
    return paths
