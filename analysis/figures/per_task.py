"""Per-task curves: each method's score against the task parameter, as training goes.

For every suite whose tasks carry a scalar parameter with more than two values (halfcheetah-vel's target
velocity, ant-dir-2d's running direction, ant-goal's and point-nav's goal distance; not the two-task
direction suites, whose two values the other figures show), one column of panels with one row per method.
A panel draws the method's last-episode score per task against the task parameter at up to
:data:`MAX_POINTS` of its evaluation points (the first, the suite's common final point, and evenly spaced
ones between), lighter for earlier points, so one reads where in the task distribution the method learns
first and where it stays weak. The final point's line has the method's colour, marker and line style and a
95 % Student-t band over runs; earlier lines are means only (their CSV rows carry no interval).

The parameter axis is binned exactly as the ood figure bins it (:mod:`analysis.figures.ood`; the bins are
fixed by the final point's tasks and then used at every point); per run the tasks of a bin are averaged,
and lines are means over runs. Meta-test and ood tasks are separate lines (open and filled markers on the
final line), the meta-train range is shaded, and the random policy's score (per run the mean over all its
evaluations, then the mean over runs) is the grey reference in every panel: it shows how hard each task is
for a policy that does not learn (halfcheetah-vel's return falls by about 200 per m/s for every policy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from analysis import stats, tables
from analysis.figures import ood
from analysis.figures._common import RANDOM, draw_band, mean_over_runs, success_bounds
from analysis.style import (
    LINE_ZORDER,
    METHODS,
    empty_figure,
    format_steps,
    legend_below,
    method_styles,
    new_figure,
    plot_style,
    save_figure,
    suite_order,
    suptitle,
    task_parameter_label,
    write_csv,
)

NAME = "per_task"
SPLITS = ("meta_test", "ood")
MAX_POINTS = 4
"""Evaluation points drawn per method and suite (more make the panel unreadable)."""
MIN_VALUES = 3
"""A suite's parameter needs this many distinct values for a per-task curve (two-task suites have 2)."""
FINAL, EARLIER, REFERENCE = "final", "earlier", "all evaluations (random reference)"
COLUMNS = [
    "suite",
    "score",
    "split",
    "method",
    "evaluation",
    "env_steps",
    "param",
    "param_low",
    "param_high",
    "n_runs",
    "n_tasks",
    "mean",
    "ci_low",
    "ci_high",
    "interval",
]


def _trials(df: tables.ScoreTable) -> pd.DataFrame:
    """Last-episode score of every trial on meta_test and ood, at every evaluation point up to the
    suite's common final point, of the suites with a parameter of at least :data:`MIN_VALUES` values."""
    frames = [
        tables.plain(tables.last_episode(tables.task_episode_scores(df, split))).assign(split=split)
        for split in SPLITS
    ]
    trials = pd.concat(frames, ignore_index=True)
    trials = trials[trials["task_param"].notna()]
    values = trials.groupby("suite")["task_param"].nunique()
    trials = trials[trials["suite"].isin(values[values >= MIN_VALUES].index)]
    limits = tables.common_points(df).set_index("suite")["common_env_steps"]
    trials = trials[trials["env_steps"] <= trials["suite"].map(limits).to_numpy()]
    return trials.assign(task_param=trials["task_param"].astype("float64")).reset_index(drop=True)


def selected_points(grid: list[int], n: int = MAX_POINTS) -> list[int]:
    """Up to ``n`` points of a sorted evaluation grid: the first, the last and evenly spaced ones between."""
    if len(grid) <= n:
        return list(grid)
    index = np.unique(np.round(np.linspace(0, len(grid) - 1, n)).astype(int))
    return [grid[i] for i in index]


def _points(trials: pd.DataFrame) -> pd.DataFrame:
    """``suite, method, env_steps, evaluation``: the points drawn per (suite, method), the grid points
    every run of the method reached (else any run's), the last of them ``final``."""
    rows = []
    runs = trials.groupby(["suite", "method", "run_id"], sort=True, observed=True)["env_steps"]
    grids = runs.unique().reset_index()
    for (suite, method), group in grids.groupby(["suite", "method"], sort=True):
        if method == RANDOM:
            continue
        sets = [set(int(v) for v in steps) for steps in group["env_steps"]]
        grid = sorted(set.intersection(*sets) or set.union(*sets))
        chosen = selected_points(grid)
        rows += [(suite, method, s, FINAL if s == chosen[-1] else EARLIER) for s in chosen]
    return pd.DataFrame(rows, columns=["suite", "method", "env_steps", "evaluation"])


def compute(df: tables.Table) -> pd.DataFrame:
    """The plotted numbers, one row per (suite, split, method, evaluation point, parameter bin):
    :data:`COLUMNS` (``env_steps`` empty on the random reference's rows, which average all its points)."""
    df = tables.score_table(df)
    trials = _trials(df)
    if trials.empty:
        return pd.DataFrame(columns=COLUMNS)
    final = tables.at_common_point(trials, tables.common_points(df))
    learned = final[final["method"] != RANDOM]  # the tasks the ood figure bins (it subtracts random's)
    trials = ood.apply_bins(trials, ood.bin_edges(learned if not learned.empty else final))
    bins = ["split", "param", "param_low", "param_high"]
    learners = trials.merge(_points(trials), on=["suite", "method", "env_steps"], how="inner")
    if learners.empty:  # only the random policy: nothing learns, no curve to draw
        return pd.DataFrame(columns=COLUMNS)
    per_run = learners.groupby(
        [*tables.RUN_KEYS, "evaluation", "env_steps", *bins], sort=True, observed=True
    ).agg(score=("value", "mean"), n_tasks=("value", "size"))
    group = ["suite", "method", "evaluation", "env_steps", *bins]
    bands = mean_over_runs(per_run.reset_index(), group, "score", bounds=success_bounds)
    tasks = per_run.groupby(group, sort=True, observed=True)["n_tasks"].sum().reset_index()
    bands = bands.merge(tasks, on=group, how="left")
    earlier = bands["evaluation"] == EARLIER
    bands.loc[earlier, ["ci_low", "ci_high"]] = np.nan
    bands.loc[earlier, "interval"] = "not drawn (earlier evaluation point: mean only)"
    rand = trials[trials["method"] == RANDOM]
    if not rand.empty:
        per_run = rand.groupby([*tables.RUN_KEYS, *bins], sort=True, observed=True).agg(
            score=("value", "mean"), n_tasks=("value", "size")
        )
        reference = mean_over_runs(per_run.reset_index(), ["suite", "method", *bins], "score")
        tasks = per_run.groupby(["suite", *bins], sort=True, observed=True)["n_tasks"].sum().reset_index()
        reference = reference.merge(tasks, on=["suite", *bins], how="left")
        reference = reference.assign(
            evaluation=REFERENCE,
            env_steps=np.nan,
            ci_low=np.nan,
            ci_high=np.nan,
            interval="not drawn (random reference: mean only)",
        )
        bands = pd.concat([bands, reference], ignore_index=True)
    bands["score"] = [tables.score_name(str(s)) for s in bands["suite"]]
    return bands[COLUMNS]


def _tint(color: str, strength: float) -> tuple[float, float, float]:
    """``color`` mixed with white: ``strength`` 1 is the colour itself, 0 white."""
    rgb = np.asarray(to_rgb(color))
    return tuple(float(c) for c in 1.0 - strength * (1.0 - rgb))  # type: ignore[return-value]


def _strength(env_steps: float, budget: float) -> float:
    """How much of the method's colour an earlier evaluation point's line gets: 0.35 at step 0, 0.75 at the
    budget (the final point's line has all of it)."""
    return 0.35 + 0.4 * float(env_steps) / budget if budget > 0 else 0.55


def _panel(ax, mine: pd.DataFrame, reference: pd.DataFrame, style, budget: float) -> object | None:
    """One method on one suite; returns the final line's legend handle."""
    random_style = METHODS[RANDOM]
    for split in SPLITS:
        for segment in ood.split_segments(reference[reference["split"] == split]):
            ax.plot(
                segment["param"],
                segment["mean"],
                color=random_style.color,
                linestyle=random_style.linestyle,
                linewidth=1.1,
                zorder=2,
            )
    handle = None
    steps = sorted(mine["env_steps"].unique())
    for env_steps in steps:
        at = mine[mine["env_steps"] == env_steps]
        is_final = bool((at["evaluation"] == FINAL).all())
        color = _tint(style.color, _strength(env_steps, budget))
        for split in SPLITS:
            for segment in ood.split_segments(at[at["split"] == split]):
                x = segment["param"].to_numpy(dtype=float)
                if is_final:
                    drawn = draw_band(ax, x, segment, style, label=style.label)
                    line = drawn[1] if isinstance(drawn, tuple) else drawn
                    line.set_markerfacecolor(style.color if split == "ood" else "white")
                    handle = handle or drawn
                else:
                    ax.plot(x, segment["mean"], color=color, linewidth=1.1, zorder=LINE_ZORDER - 0.5)
    # Which line is which point: a small key in the panel (grids differ between methods).
    key = [
        Line2D(
            [],
            [],
            color=style.color if s == steps[-1] else _tint(style.color, _strength(s, budget)),
            linewidth=1.6 if s == steps[-1] else 1.1,
        )
        for s in steps
    ]
    ax.legend(
        key,
        [format_steps(float(s)) + (" (final)" if s == steps[-1] else "") for s in steps],
        title="env steps",
        fontsize=6.5,
        title_fontsize=6.5,
        loc="best",
        handlelength=1.4,
        labelspacing=0.2,
        borderaxespad=0.3,
    )
    return handle


def draw(bands: pd.DataFrame, ranges: pd.DataFrame) -> Figure:
    """The figure of :func:`compute`'s numbers and the shaded meta-train ranges (inside ``plot_style``)."""
    suites = suite_order(bands["suite"].unique())
    styles = method_styles(bands["method"].unique())
    methods = [m for m in styles if m != RANDOM and (bands["method"] == m).any()]
    if not suites or not methods:
        return empty_figure(
            "no suite whose tasks have a scalar parameter with three or more values (task_param) "
            "in the results table"
        )
    fig = new_figure(0.4 + 3.6 * len(suites), 1.6 + 2.2 * len(methods))
    axes = fig.subplots(len(methods), len(suites), squeeze=False, sharex="col", sharey="col")
    legend: dict[str, object] = {}
    for col, suite in enumerate(suites):
        in_suite = bands[bands["suite"] == suite]
        reference = in_suite[in_suite["method"] == RANDOM]
        budget = float(in_suite["env_steps"].max())
        for row, method in enumerate(methods):
            ax = axes[row][col]
            for low, high in ranges.loc[ranges["suite"] == suite, ["low", "high"]].itertuples(index=False):
                ax.axvspan(low, high, color="0.92", linewidth=0, zorder=0)
            mine = in_suite[in_suite["method"] == method]
            if not mine.empty:
                handle = _panel(ax, mine, reference, styles[method], budget)
                if handle is not None:
                    legend.setdefault(method, handle)
            runs = int(mine["n_runs"].max()) if not mine.empty else 0
            ax.set_title(
                f"{styles[method].label} on {suite} · {runs} run{'s' if runs != 1 else ''}", fontsize=9
            )
            ax.set_ylabel(tables.score_name(suite))
            if row == len(methods) - 1:
                ax.set_xlabel(task_parameter_label(suite))
    ordered = [m for m in methods if m in legend]
    handles, labels = [legend[m] for m in ordered], [f"{styles[m].label} (final)" for m in ordered]
    random_style = METHODS[RANDOM]
    if (bands["method"] == RANDOM).any():
        linestyle: Any = random_style.linestyle  # a dash tuple or a name
        handles.append(Line2D([], [], color=random_style.color, linestyle=linestyle))
        labels.append("Random (mean of all evaluations)")
    key = [
        Line2D([], [], color=_tint("#404040", 0.45), linewidth=1.1),
        Line2D([], [], color="0.3", linestyle="none", marker="o", markerfacecolor="white"),
        Line2D([], [], color="0.3", linestyle="none", marker="o", markerfacecolor="0.3"),
        Patch(color="0.92"),
    ]
    legend_below(
        fig,
        handles,
        labels,
        key=(
            key,
            [
                "earlier evaluation (lighter = earlier)",
                "meta-test tasks (open)",
                "ood tasks (filled)",
                "meta-train range",
            ],
        ),
    )
    suptitle(
        fig,
        "Per-task curves: score against the task parameter as training goes\n"
        "(mean over runs; final point with a 95 % Student-t band over runs)",
    )
    return fig


def make(
    df: tables.Table, out_dir: str | Path, seed: int = 0, reps: int = stats.DEFAULT_REPS, *, pdf: bool = True
) -> list[Path]:
    """Write ``per_task.{png,pdf,csv}`` into ``out_dir``; returns the paths."""
    out_dir = Path(out_dir)
    df = tables.score_table(df)
    bands = compute(df)
    ranges = ood.train_ranges(df, suite_order(bands["suite"].unique()))
    with plot_style():
        paths = save_figure(draw(bands, ranges), out_dir, NAME, pdf=pdf)
    paths.append(
        write_csv(bands, out_dir, NAME, ["suite", "method", "split", "evaluation", "env_steps", "param"])
    )
    return paths
