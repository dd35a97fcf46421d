"""Per-class success on the multi-class Meta-World suites (ML10, ML45): a table and a heat map.

From the ``task_name`` column (the Meta-World class of each trial). For every suite with at least two
classes, split and method: the success rate of the classes' trials at the suite's common final point
(last episode of each trial), pooled over runs, with an exact Clopper-Pearson 95 % interval on the pooled
count. The pooled interval treats trials as independent: it shows the binomial uncertainty of a class's rate,
not the spread between seeds (``n_runs`` says how many runs the trials come from).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis import stats, tables
from analysis.style import (
    empty_figure,
    format_steps,
    method_styles,
    new_figure,
    plot_style,
    save_figure,
    write_csv,
)

NAME = "per_class_success"
SPLITS = ("meta_train", "meta_test")
COLUMNS = [
    "suite",
    "split",
    "task_name",
    "method",
    "env_steps",
    "n_runs",
    "n_trials",
    "successes",
    "success_rate",
    "ci_low",
    "ci_high",
    "interval",
]


def compute(df: tables.Table) -> pd.DataFrame:
    """The table: one row per (suite, split, class, method); rates and bounds in percent."""
    df = tables.score_table(df)
    frames = []
    for split in SPLITS:
        trials = tables.final_trials(df, split)
        trials = trials[trials["task_name"].notna() & trials["suite"].map(tables.is_success).astype(bool)]
        frames.append(trials.assign(split=split))
    trials = pd.concat(frames, ignore_index=True)
    classes = trials.groupby("suite")["task_name"].nunique()
    trials = trials[trials["suite"].isin(classes[classes >= 2].index)]
    if trials.empty:
        return pd.DataFrame(columns=COLUMNS)
    trials = trials.assign(success=trials["value"] / 100.0)
    grouped = trials.groupby(["suite", "split", "task_name", "method"], sort=True)
    out = grouped.agg(
        env_steps=("env_steps", "max"),
        n_runs=("run_id", "nunique"),
        n_trials=("success", "size"),
        successes=("success", "sum"),
    ).reset_index()
    low, high = stats.clopper_pearson(out["successes"].to_numpy(), out["n_trials"].to_numpy())
    out["success_rate"] = 100.0 * out["successes"] / out["n_trials"]
    out["ci_low"], out["ci_high"] = 100.0 * low, 100.0 * high
    out["interval"] = [f"95% Clopper-Pearson over {n} trials" for n in out["n_trials"]]
    return out[COLUMNS]


def _heat_maps(table: pd.DataFrame):
    panels = list(table[["suite", "split"]].drop_duplicates().itertuples(index=False))
    styles = method_styles(table["method"].unique())
    methods = list(styles)
    heights = [table[(table["suite"] == s) & (table["split"] == p)]["task_name"].nunique() for s, p in panels]
    fig = new_figure(1.6 + 1.1 * len(methods) * len(panels), 1.3 + 0.26 * max(heights))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    image = None
    for ax, (suite, split) in zip(axes, panels, strict=True):
        mine = table[(table["suite"] == suite) & (table["split"] == split)]
        grid = mine.pivot(index="task_name", columns="method", values="success_rate").reindex(columns=methods)
        image = ax.imshow(grid.to_numpy(dtype=float), vmin=0, vmax=100, cmap="viridis", aspect="auto")
        for (i, j), value in np.ndenumerate(grid.to_numpy(dtype=float)):
            if np.isfinite(value):
                ax.text(
                    j,
                    i,
                    f"{value:.0f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if value < 60 else "black",
                )
        ax.set_xticks(range(len(methods)), [styles[m].label for m in methods], rotation=30, ha="right")
        ax.set_yticks(range(len(grid.index)), list(grid.index))
        ax.grid(False)
        runs = int(mine["n_runs"].max())
        ax.set_title(
            f"{suite} {split.replace('_', '-')} · {format_steps(float(mine['env_steps'].max()))} env steps"
            f" · {runs} run{'s' if runs != 1 else ''}",
            fontsize=9,
        )
    if image is not None:
        fig.colorbar(image, ax=list(axes), label="success rate (%)", shrink=0.8)
    fig.suptitle("Success rate per task class at the common final point (last episode of each trial)")
    return fig


def make(
    df: tables.Table, out_dir: str | Path, seed: int = 0, reps: int = 0, *, pdf: bool = True
) -> list[Path]:
    """Write ``per_class_success.{png,pdf,csv}`` into ``out_dir``; returns the paths."""
    out_dir = Path(out_dir)
    table = compute(df)
    with plot_style():
        fig = (
            empty_figure("no suite with two or more task classes (task_name) in the results table")
            if table.empty
            else _heat_maps(table)
        )
        paths = save_figure(fig, out_dir, NAME, pdf=pdf)
    paths.append(write_csv(table, out_dir, NAME, ["suite", "split", "task_name", "method"]))
    return paths
