"""Out of distribution: score against the task parameter, meta-test and ood tasks side by side.

One panel per suite that has an ``ood`` split and a scalar ``task_param`` (e.g. HalfCheetahVel's target
velocity: meta-test U[0, 3], ood U[3, 4]); suites without either are skipped. Scores are each task's
last-episode score at each run's final grid point.

Task parameters usually differ between seeds (each seed draws its own tasks), so tasks are grouped on the
parameter axis before averaging over runs: if a split has at most :data:`MAX_EXACT` distinct parameter
values they are used as they are, otherwise the split's range is cut into equal-width bins (about
:data:`TARGET_BINS` over the suite's whole range) and a point is drawn at each bin's centre. Per run, the
tasks in a bin are averaged; the figure shows the mean over runs with a 95 % percentile-bootstrap band.
Empty bins break the line. The meta-train range is shaded: the range in :data:`analysis.style.TRAIN_RANGES`
for known suites, else the range of ``meta_train``/``meta_test`` parameters in the table minus the ood range.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from analysis import stats, tables
from analysis.figures._common import draw_band, mean_over_runs
from analysis.style import (
    TRAIN_RANGES,
    empty_figure,
    legend_below,
    method_styles,
    panel_grid,
    plot_style,
    save_figure,
    suite_order,
    task_parameter_label,
    write_csv,
)

NAME = "ood"
SPLITS = ("meta_test", "ood")
MAX_EXACT = 24
TARGET_BINS = 16
LINESTYLES = {"meta_test": ("-", "o"), "ood": ("--", "s")}


def _bin_edges(values: np.ndarray, share: float) -> np.ndarray | None:
    """Bin edges for one split's parameters, or ``None`` to use the distinct values as they are."""
    distinct = np.unique(values)
    if distinct.size <= MAX_EXACT:
        return None
    n_bins = max(3, round(TARGET_BINS * share))
    return np.linspace(distinct[0], distinct[-1], n_bins + 1)


def _assign_bins(tasks: pd.DataFrame) -> pd.DataFrame:
    """Add ``param, param_low, param_high`` (the plotted x and its bin) to each task row."""
    out = []
    for _suite, in_suite in tasks.groupby("suite", sort=True, observed=True):
        params = in_suite["task_param"].to_numpy(dtype=np.float64)
        span = max(float(np.ptp(params)), 1e-12)
        for _, part in in_suite.groupby("split", sort=True, observed=True):
            values = part["task_param"].to_numpy(dtype=np.float64)
            edges = _bin_edges(values, float(np.ptp(values)) / span)
            if edges is None:
                low = high = centre = values
            else:
                index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
                low, high = edges[index], edges[index + 1]
                centre = (low + high) / 2.0
            out.append(part.assign(param=centre, param_low=low, param_high=high))
    return pd.concat(out, ignore_index=True)


def train_ranges(df: tables.Table, suites: list[str]) -> pd.DataFrame:
    """Shaded meta-train interval(s) per suite: ``suite, low, high, source``."""
    df = tables.score_table(df).rows
    rows = []
    for suite in suites:
        if suite in TRAIN_RANGES:
            low, high = TRAIN_RANGES[suite]
            rows.append((suite, low, high, "known suite range"))
            continue
        in_suite = df[(df["suite"] == suite) & df["task_param"].notna()]
        inside = in_suite.loc[in_suite["split"].isin(["meta_train", "meta_test"]), "task_param"]
        outside = in_suite.loc[in_suite["split"] == "ood", "task_param"]
        if inside.empty:
            continue
        intervals = [(float(inside.min()), float(inside.max()))]
        if not outside.empty:
            o_low, o_high = float(outside.min()), float(outside.max())
            # The ood parameters may lie inside the hull of the training ones (a held-out sector).
            cut = []
            for low, high in intervals:
                if o_high <= low or o_low >= high:
                    cut.append((low, high))
                    continue
                if low < o_low:
                    cut.append((low, o_low))
                if o_high < high:
                    cut.append((o_high, high))
            intervals = cut
        rows += [
            (suite, low, high, "range of meta_train/meta_test parameters in the table")
            for low, high in intervals
        ]
    return pd.DataFrame(rows, columns=["suite", "low", "high", "source"])


def compute(df: tables.Table, *, seed: int = 0, reps: int = stats.DEFAULT_REPS) -> pd.DataFrame:
    """The plotted numbers: ``suite, score, split, method, param, param_low, param_high, env_steps,
    n_runs, n_tasks, mean, ci_low, ci_high``."""
    df = tables.score_table(df)
    frames = []
    for split in SPLITS:
        tasks = tables.final_rows(tables.last_episode(tables.task_episode_scores(df, split)))
        frames.append(tasks.assign(split=split))
    tasks = tables.plain(pd.concat(frames, ignore_index=True))
    tasks = tasks[tasks["task_param"].notna()]
    with_ood = set(tasks.loc[tasks["split"] == "ood", "suite"].astype(str))
    tasks = tasks[tasks["suite"].isin(sorted(with_ood))]
    columns = [
        "suite",
        "score",
        "split",
        "method",
        "param",
        "param_low",
        "param_high",
        "env_steps",
        "n_runs",
        "n_tasks",
        "mean",
        "ci_low",
        "ci_high",
    ]
    if tasks.empty:
        return pd.DataFrame(columns=columns)
    tasks = _assign_bins(tasks.assign(task_param=tasks["task_param"].astype("float64")))
    bin_keys = ["split", "param", "param_low", "param_high"]
    per_run = tasks.groupby([*tables.RUN_KEYS, *bin_keys], sort=True, observed=True).agg(
        score=("value", "mean"), n_tasks=("value", "size"), env_steps=("env_steps", "max")
    )
    per_run = per_run.reset_index()
    group = ["suite", "split", "method", "param", "param_low", "param_high"]
    bands = mean_over_runs(per_run, group, "score", seed=seed, reps=reps, figure=NAME)
    extra = per_run.groupby(group, sort=True, observed=True).agg(
        n_tasks=("n_tasks", "sum"), env_steps=("env_steps", "max")
    )
    bands = bands.merge(extra.reset_index(), on=group, how="left")
    bands["score"] = [tables.score_name(str(s)) for s in bands["suite"]]
    return bands[columns]


def _with_gaps(band: pd.DataFrame) -> pd.DataFrame:
    """Insert a NaN row between non-adjacent bins so that the line breaks over empty bins."""
    if len(band) < 2:
        return band
    binned = (band["param_high"] > band["param_low"]).all()
    if not binned:
        return band
    rows = []
    previous_high = None
    for _, row in band.iterrows():
        if previous_high is not None and not np.isclose(row["param_low"], previous_high):
            gap = row.copy()
            gap[["param", "mean", "ci_low", "ci_high"]] = np.nan
            rows.append(gap)
        rows.append(row)
        previous_high = row["param_high"]
    return pd.DataFrame(rows)


def make(
    df: tables.Table, out_dir: str | Path, seed: int = 0, reps: int = stats.DEFAULT_REPS, *, pdf: bool = True
) -> list[Path]:
    """Write ``ood.{png,pdf,csv}`` and ``ood_train_ranges.csv`` into ``out_dir``; returns the paths."""
    out_dir = Path(out_dir)
    df = tables.score_table(df)
    bands = compute(df, seed=seed, reps=reps)
    suites = suite_order(bands["suite"].unique())
    ranges = train_ranges(df, suites)
    styles = method_styles(bands["method"].unique())
    with plot_style():
        if not suites:
            fig = empty_figure("no suite has ood tasks with a task parameter in the results table")
        else:
            fig, axes = panel_grid(len(suites), panel_width=4.2)
            legend: dict[str, object] = {}
            for ax, suite in zip(axes, suites, strict=True):
                for low, high in ranges.loc[ranges["suite"] == suite, ["low", "high"]].itertuples(
                    index=False
                ):
                    ax.axvspan(low, high, color="0.85", alpha=0.6, linewidth=0, zorder=0)
                for method, style in styles.items():
                    for split in SPLITS:
                        mask = (
                            (bands["suite"] == suite)
                            & (bands["method"] == method)
                            & (bands["split"] == split)
                        )
                        band = _with_gaps(bands[mask].sort_values("param"))
                        if band.empty:
                            continue
                        linestyle, marker = LINESTYLES[split]
                        x = band["param"].to_numpy(dtype=float)
                        line = draw_band(
                            ax, x, band, style, label=style.label, linestyle=linestyle, marker=marker
                        )
                        legend.setdefault(method, line)
                ax.set_title(suite)
                ax.set_xlabel(task_parameter_label(suite))
                ax.set_ylabel(tables.score_name(suite).replace("return", "return (final checkpoint)"))
            ordered = [m for m in styles if m in legend]
            key = [
                Line2D([], [], color="0.3", linestyle="-", marker="o"),
                Line2D([], [], color="0.3", linestyle="--", marker="s"),
                Patch(color="0.85", alpha=0.6),
            ]
            legend_below(
                fig,
                [legend[m] for m in ordered],
                [styles[m].label for m in ordered],
                key=(key, ["meta-test tasks", "ood tasks", "meta-train range"]),
            )
            fig.suptitle("Out of distribution: score against the task parameter (mean over seeds, 95 % CI)")
        paths = save_figure(fig, out_dir, NAME, pdf=pdf)
    paths.append(write_csv(bands, out_dir, NAME, ["suite", "split", "method", "param"]))
    paths.append(write_csv(ranges, out_dir, "ood_train_ranges", ["suite", "low"]))
    return paths
