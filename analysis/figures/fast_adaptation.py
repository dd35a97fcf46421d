"""Fast adaptation: meta-test score in each episode 1..K of a trial, at each suite's common final point.

The paper evaluated 20 meta-test tasks x 6 episodes. Per run, the score of episode ``k`` is the mean over
the run's meta-test trials of episode ``k``'s return (success rate in percent for Meta-World); the figure
shows the mean over runs with a 95 % Student-t band over runs. A rise over the episodes is adaptation across
episodes, which only methods that carry memory from one episode to the next can show (TrMRL's faithful
default clears its window at every episode start: see the online-adaptation figure for its within-episode
adaptation).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from analysis import stats, tables
from analysis.figures._common import mean_over_runs, success_bounds, suite_panels
from analysis.style import integer_axis, plot_style, save_figure, write_csv

NAME = "fast_adaptation"


def compute(df: tables.Table) -> pd.DataFrame:
    """The plotted numbers: ``suite, score, method, episode, env_steps, n_runs, mean, ci_low, ci_high,
    interval`` (``env_steps``: the common final point the runs are compared at)."""
    table = tables.score_table(df)
    episodes = tables.plain(tables.task_episode_scores(table, "meta_test"))
    episodes = tables.at_common_point(episodes, tables.common_points(table))
    per_run = episodes.groupby([*tables.RUN_KEYS, "env_steps", "episode"], sort=True, observed=True)
    per_run = per_run["value"].mean().rename("score").reset_index()
    bands = mean_over_runs(per_run, ["suite", "method", "episode"], "score", bounds=success_bounds)
    steps = per_run.groupby(["suite", "method", "episode"], sort=True, observed=True)["env_steps"].max()
    bands = bands.merge(steps.reset_index(), on=["suite", "method", "episode"], how="left")
    bands.insert(1, "score", [tables.score_name(str(s)) for s in bands["suite"]])
    columns = ["suite", "score", "method", "episode", "env_steps", "n_runs", "mean", "ci_low", "ci_high"]
    return bands[[*columns, "interval"]]


def draw(bands: pd.DataFrame) -> Figure:
    """The figure of :func:`compute`'s numbers (call inside :func:`analysis.style.plot_style`)."""

    def label_axes(ax, suite: str) -> None:
        ax.set_xlabel("episode of the trial")
        ax.set_ylabel(tables.score_label(suite))
        integer_axis(ax, bands.loc[bands["suite"] == suite, "episode"])  # episode 1, never 0.96 ... 1.04

    return suite_panels(
        bands,
        "episode",
        label_axes=label_axes,
        title="Score in each episode of a meta-test trial, at the common final point "
        "(mean over runs, 95 % Student-t band)",
    )


def make(
    df: tables.Table, out_dir: str | Path, seed: int = 0, reps: int = stats.DEFAULT_REPS, *, pdf: bool = True
) -> list[Path]:
    """Write ``fast_adaptation.{png,pdf,csv}`` into ``out_dir``; returns the paths."""
    out_dir = Path(out_dir)
    bands = compute(df)
    with plot_style():
        paths = save_figure(draw(bands), out_dir, NAME, pdf=pdf)
    paths.append(write_csv(bands, out_dir, NAME, ["suite", "method", "episode"]))
    return paths
