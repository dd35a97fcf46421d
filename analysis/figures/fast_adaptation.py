"""Fast adaptation: meta-test score in each episode 1..K of a trial, at each run's final grid point.

The paper evaluated 20 meta-test tasks x 6 episodes. Per run, the score of episode ``k`` is the mean over
the run's meta-test tasks of episode ``k``'s return (success rate in percent for Meta-World); the figure
shows the mean over runs with a 95 % percentile-bootstrap band over runs (seeds).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.ticker import MaxNLocator

from analysis import stats, tables
from analysis.figures._common import draw_band, mean_over_runs
from analysis.style import (
    empty_figure,
    legend_below,
    method_styles,
    panel_grid,
    plot_style,
    save_figure,
    suite_order,
    write_csv,
)

NAME = "fast_adaptation"


def compute(df: tables.Table, *, seed: int = 0, reps: int = stats.DEFAULT_REPS) -> pd.DataFrame:
    """The plotted numbers: ``suite, score, method, episode, env_steps, n_runs, mean, ci_low, ci_high``
    (``env_steps``: the latest final grid point among the runs averaged)."""
    episodes = tables.final_rows(tables.task_episode_scores(tables.score_table(df), "meta_test"))
    per_run = episodes.groupby([*tables.RUN_KEYS, "env_steps", "episode"], sort=True, observed=True)
    per_run = per_run["value"].mean().rename("score").reset_index()
    bands = mean_over_runs(
        per_run, ["suite", "method", "episode"], "score", seed=seed, reps=reps, figure=NAME
    )
    steps = per_run.groupby(["suite", "method", "episode"], sort=True, observed=True)["env_steps"].max()
    bands = bands.merge(steps.reset_index(), on=["suite", "method", "episode"], how="left")
    bands.insert(1, "score", [tables.score_name(str(s)) for s in bands["suite"]])
    columns = ["suite", "score", "method", "episode", "env_steps", "n_runs", "mean", "ci_low", "ci_high"]
    return bands[columns]


def make(
    df: tables.Table, out_dir: str | Path, seed: int = 0, reps: int = stats.DEFAULT_REPS, *, pdf: bool = True
) -> list[Path]:
    """Write ``fast_adaptation.{png,pdf,csv}`` into ``out_dir``; returns the paths."""
    out_dir = Path(out_dir)
    bands = compute(df, seed=seed, reps=reps)
    suites = suite_order(bands["suite"].unique())
    styles = method_styles(bands["method"].unique())
    with plot_style():
        if not suites:
            fig = empty_figure("no meta_test evaluations in the results table")
        else:
            fig, axes = panel_grid(len(suites))
            legend: dict[str, object] = {}
            for ax, suite in zip(axes, suites, strict=True):
                for method, style in styles.items():
                    band = bands[(bands["suite"] == suite) & (bands["method"] == method)]
                    if band.empty:
                        continue
                    x = band["episode"].to_numpy(dtype=float)
                    line = draw_band(ax, x, band, style, label=style.label, marker="o")
                    legend.setdefault(method, line)
                ax.set_title(suite)
                ax.set_xlabel("adaptation episode in the trial")
                ax.set_ylabel(tables.score_label(suite))
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ordered = [m for m in styles if m in legend]
            legend_below(fig, [legend[m] for m in ordered], [styles[m].label for m in ordered])
            fig.suptitle(
                "Fast adaptation on meta-test tasks at the final checkpoint (mean over seeds, 95 % CI)"
            )
        paths = save_figure(fig, out_dir, NAME, pdf=pdf)
    paths.append(write_csv(bands, out_dir, NAME, ["suite", "method", "episode"]))
    return paths
