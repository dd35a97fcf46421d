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
from analysis.figures._common import mean_over_runs, suite_panels
from analysis.style import plot_style, save_figure, write_csv

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

    def label_axes(ax, suite: str) -> None:
        ax.set_xlabel("adaptation episode in the trial")
        ax.set_ylabel(tables.score_label(suite))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))

    with plot_style():
        fig = suite_panels(
            bands,
            "episode",
            label_axes=label_axes,
            title="Fast adaptation on meta-test tasks at the final checkpoint (mean over seeds, 95 % CI)",
        )
        paths = save_figure(fig, out_dir, NAME, pdf=pdf)
    paths.append(write_csv(bands, out_dir, NAME, ["suite", "method", "episode"]))
    return paths
