"""Per-class success on the multi-class Meta-World suites (ML10, ML45): a table and a heat map.

From the ``task_name`` column (the Meta-World class of each trial). For every suite with at least two
classes, split and method: the success rate of the classes' trials at the suite's common final point
(last episode of each trial), pooled over runs, with a Clopper-Pearson 95 % interval on the pooled count.
The pooled interval treats trials as independent binomial draws: it shows the binomial uncertainty of a
class's rate, not the spread between seeds (``n_runs`` says how many runs the trials come from), so it is
not exact here and may be too narrow.

The heat maps stack one panel per suite and split, the held-out test classes (meta-test) first; each
panel's title says which classes it shows and why: a quick profile evaluates meta-train on a few tasks, so
an ML45 meta-train panel may show 5 of the 45 training classes, and says so.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis import stats, tables
from analysis.style import (
    empty_figure,
    format_steps,
    method_styles,
    new_figure,
    plot_style,
    save_figure,
    suite_order,
    suptitle,
    write_csv,
)

NAME = "per_class_success"
SPLITS = ("meta_train", "meta_test")
SPLITS_SHOWN = ("meta_test", "meta_train")
"""Panel order: the held-out test classes first, then the training classes."""
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
    out["interval"] = [
        f"95% Clopper-Pearson over {n} pooled trials (binomial; ignores the spread between runs)"
        for n in out["n_trials"]
    ]
    return out[COLUMNS]


def _training_classes(suite: str) -> int | None:
    """How many task classes the suite's meta_train split has (the suite catalog), or ``None``."""
    from benchmark.suites import SUITES

    entry = SUITES.get(suite)
    return entry.train_classes if entry is not None and entry.train_classes else None


def classes_shown(suite: str, split: str, n_shown: int) -> str:
    """Which classes a panel shows, and why: e.g. ``"the 5 held-out test classes (meta-test split)"`` or
    ``"5 of the 45 training classes (only these were evaluated on meta-train)"``."""
    if split == "meta_test":
        return f"the {n_shown} held-out test classes (meta-test split)"
    total = _training_classes(suite)
    if total is None:
        return f"{n_shown} training classes (meta-train split)"
    if n_shown >= total:
        return f"all {total} training classes (meta-train split)"
    return f"{n_shown} of the {total} training classes (only these were evaluated on meta-train)"


def panel_title(suite: str, split: str, mine: pd.DataFrame, width: int = 60) -> str:
    """``suite: <classes_shown>`` wrapped to ``width`` characters, then the budget and the runs."""
    runs = int(mine["n_runs"].max())
    shown = textwrap.wrap(f"{suite}: {classes_shown(suite, split, mine['task_name'].nunique())}", width)
    budget = (
        f"{format_steps(float(mine['env_steps'].max()))} env steps · {runs} run{'s' if runs != 1 else ''}"
    )
    return "\n".join([*shown, budget])


def draw(table: pd.DataFrame) -> Figure:
    """One heat map per (suite, split), stacked, methods as columns (call inside ``plot_style``)."""
    if table.empty:
        return empty_figure("no suite with two or more task classes (task_name) in the results table")
    panels = [(s, p) for s in suite_order(table["suite"].unique()) for p in SPLITS_SHOWN]
    panels = [(s, p) for s, p in panels if ((table["suite"] == s) & (table["split"] == p)).any()]
    styles = method_styles(table["method"].unique())
    methods = list(styles)
    heights = [table[(table["suite"] == s) & (table["split"] == p)]["task_name"].nunique() for s, p in panels]
    width = 2.6 + 0.72 * len(methods)
    fig = new_figure(width, 1.3 + sum(0.75 + 0.24 * h for h in heights))
    axes = fig.subplots(len(panels), 1, squeeze=False, height_ratios=[0.75 + 0.24 * h for h in heights])
    image = None
    for k, (ax, (suite, split)) in enumerate(zip(axes[:, 0], panels, strict=True)):
        mine = table[(table["suite"] == suite) & (table["split"] == split)]
        grid = mine.pivot(index="task_name", columns="method", values="success_rate").reindex(columns=methods)
        values = grid.to_numpy(dtype=float)
        image = ax.imshow(values, vmin=0, vmax=100, cmap="viridis", aspect="auto")
        for (i, j), value in np.ndenumerate(values):
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
        if k == len(panels) - 1:  # the methods once, under the last panel
            ax.set_xticks(range(len(methods)), [styles[m].label for m in methods], rotation=30, ha="right")
        else:
            ax.set_xticks(range(len(methods)), [""] * len(methods))
        ax.set_yticks(range(len(grid.index)), list(grid.index), fontsize=7.5)
        ax.grid(False)
        ax.set_title(panel_title(suite, split, mine, int(0.72 * len(methods) * 13)), fontsize=8.5, loc="left")
    if image is not None:
        fig.colorbar(image, ax=list(axes[:, 0]), label="success rate (%)", shrink=0.6, aspect=25)
    suptitle(
        fig,
        "Success rate per task class at the common final point (last episode of each trial, pooled over "
        "runs); each panel names the classes it shows",
    )
    return fig


def make(
    df: tables.Table, out_dir: str | Path, seed: int = 0, reps: int = 0, *, pdf: bool = True
) -> list[Path]:
    """Write ``per_class_success.{png,pdf,csv}`` into ``out_dir``; returns the paths."""
    out_dir = Path(out_dir)
    table = compute(df)
    with plot_style():
        paths = save_figure(draw(table), out_dir, NAME, pdf=pdf)
    paths.append(write_csv(table, out_dir, NAME, ["suite", "split", "task_name", "method"]))
    return paths
