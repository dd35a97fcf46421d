"""Sample efficiency (the paper's main curves): meta-test score against environment steps.

One panel per suite, one line per method at that method's own ``env_steps`` grid points (no
interpolation), the mean over runs with a 95 % percentile-bootstrap band over runs (seeds). The score is
the meta-test return (success rate in percent for Meta-World) after adaptation; see :mod:`analysis.tables`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import stats, tables
from analysis.figures._common import mean_over_runs, suite_panels
from analysis.style import plot_style, save_figure, steps_axis, write_csv

NAME = "sample_efficiency"


def compute(df: tables.Table, *, seed: int = 0, reps: int = stats.DEFAULT_REPS) -> pd.DataFrame:
    """The plotted numbers: ``suite, score, method, env_steps, n_runs, mean, ci_low, ci_high``."""
    scores = tables.evaluation_scores(tables.score_table(df), "meta_test")
    bands = mean_over_runs(
        scores, ["suite", "method", "env_steps"], "score", seed=seed, reps=reps, figure=NAME
    )
    bands.insert(1, "score", [tables.score_name(str(s)) for s in bands["suite"]])
    return bands


def make(
    df: tables.Table, out_dir: str | Path, seed: int = 0, reps: int = stats.DEFAULT_REPS, *, pdf: bool = True
) -> list[Path]:
    """Write ``sample_efficiency.{png,pdf,csv}`` into ``out_dir``; returns the paths."""
    out_dir = Path(out_dir)
    bands = compute(df, seed=seed, reps=reps)

    def label_axes(ax, suite: str) -> None:
        ax.set_ylabel(tables.score_label(suite))
        steps_axis(ax)

    with plot_style():
        fig = suite_panels(
            bands,
            "env_steps",
            label_axes=label_axes,
            title="Sample efficiency on meta-test tasks (mean over seeds, 95 % bootstrap CI)",
        )
        paths = save_figure(fig, out_dir, NAME, pdf=pdf)
    paths.append(write_csv(bands, out_dir, NAME, ["suite", "method", "env_steps"]))
    return paths
