"""Out of distribution: score against the task parameter, meta-test and ood tasks side by side.

One panel per suite that has an ``ood`` split and a scalar ``task_param`` (e.g. HalfCheetahVel's target
velocity: meta-test U[0, 3], ood U[3, 4]); suites without either are skipped. Each trial's last-episode
score at the suite's common final point, **minus the random policy's score on the same trial** (same seed,
split and task, so the same goal and reset state) where the table has random runs: halfcheetah-vel's return
falls by about 200 per m/s of target velocity for every policy, and the raw view hides method differences
under that slope. The paper's other OOD view, ood return against training env steps, is
``ood_sample_efficiency`` (:mod:`analysis.figures.sample_efficiency`).

Task parameters usually differ between seeds (each seed draws its own tasks), so tasks are grouped on the
parameter axis before averaging over runs: if a split has at most :data:`MAX_EXACT` distinct parameter
values they are used as they are, otherwise the split's range is cut into equal-width bins (about
:data:`TARGET_BINS` over the suite's whole range) and a point is drawn at each bin's centre. Per run, the
tasks in a bin are averaged; the figure shows the mean over runs with a 95 % Student-t band over runs.
The meta-test and ood parts of a method are separate lines (never joined across the split boundary), and
empty bins break a line. The meta-train range is shaded: the suite catalog's range
(:func:`analysis.style.train_range`) for known suites, else the range of ``meta_train``/``meta_test``
parameters in the table minus the ood range.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from analysis import stats, tables
from analysis.figures._common import RANDOM, draw_band, mean_over_runs, panel_title
from analysis.style import (
    METHODS,
    empty_figure,
    legend_below,
    method_styles,
    panel_grid,
    plot_style,
    save_figure,
    suite_order,
    suptitle,
    task_parameter_label,
    train_range,
    write_csv,
)

NAME = "ood"
SPLITS = ("meta_test", "ood")
MAX_EXACT = 24
TARGET_BINS = 16


def _bin_edges(part: pd.DataFrame, share: float) -> np.ndarray | None:
    """Bin edges for one split's parameters, or ``None`` to use the distinct values as they are.

    Distinct values are kept only when there are few and every run has them (two-task suites such as
    halfcheetah-dir). Otherwise there are at most half as many bins as a run has tasks, so that most bins
    hold tasks of every run (a bin with one run has no interval, one with two a very wide one).
    """
    values = part["task_param"].to_numpy(dtype=np.float64)
    distinct = np.unique(values)
    runs = part["run_id"].nunique()
    runs_per_value = part.groupby("task_param")["run_id"].nunique()
    if distinct.size <= MAX_EXACT and (runs_per_value == runs).all():
        return None
    tasks_per_run = int(part.groupby("run_id").size().median())
    n_bins = max(1, min(round(TARGET_BINS * share), tasks_per_run // 2))
    return np.linspace(distinct[0], distinct[-1], n_bins + 1)


def bin_edges(tasks: pd.DataFrame) -> dict[tuple[str, str], np.ndarray | None]:
    """Per (suite, split) of ``tasks`` (one row per run and task at one evaluation point, with ``suite,
    split, run_id, task_param``): the bin edges (:func:`_bin_edges`), ``None`` for distinct values."""
    edges: dict[tuple[str, str], np.ndarray | None] = {}
    for suite, in_suite in tasks.groupby("suite", sort=True, observed=True):
        params = in_suite["task_param"].to_numpy(dtype=np.float64)
        span = max(float(np.ptp(params)), 1e-12)
        for split, part in in_suite.groupby("split", sort=True, observed=True):
            values = part["task_param"].to_numpy(dtype=np.float64)
            edges[(str(suite), str(split))] = _bin_edges(part, float(np.ptp(values)) / span)
    return edges


def apply_bins(tasks: pd.DataFrame, edges: dict[tuple[str, str], np.ndarray | None]) -> pd.DataFrame:
    """Add ``param, param_low, param_high`` (the plotted x and its bin) to each task row, with the
    ``edges`` of its (suite, split) (:func:`bin_edges`; a parameter outside them goes to the nearest end
    bin); rows of a (suite, split) without edges keep their distinct values."""
    out = []
    for (suite, split), part in tasks.groupby(["suite", "split"], sort=True, observed=True):
        values = part["task_param"].to_numpy(dtype=np.float64)
        cut = edges.get((str(suite), str(split)))
        if cut is None:
            low = high = centre = values
        else:
            index = np.clip(np.searchsorted(cut, values, side="right") - 1, 0, len(cut) - 2)
            low, high = cut[index], cut[index + 1]
            centre = (low + high) / 2.0
        out.append(part.assign(param=centre, param_low=low, param_high=high))
    return pd.concat(out, ignore_index=True)


def _assign_bins(tasks: pd.DataFrame) -> pd.DataFrame:
    """Add ``param, param_low, param_high`` (the plotted x and its bin) to each task row."""
    return apply_bins(tasks, bin_edges(tasks))


def train_ranges(df: tables.Table, suites: list[str]) -> pd.DataFrame:
    """Shaded meta-train interval(s) per suite: ``suite, low, high, source``."""
    df = tables.score_table(df).rows
    rows = []
    for suite in suites:
        known = train_range(suite)
        if known is not None:
            low, high = known
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


def compute(df: tables.Table) -> pd.DataFrame:
    """The plotted numbers: ``suite, score, relative_to, split, method, param, param_low, param_high,
    env_steps, n_runs, n_tasks, mean, ci_low, ci_high, interval``.

    Where the suite has random runs, every trial's score is paired with the random policy's score on the
    same trial (same seed, split and task: the same goal and reset state) and the difference is plotted
    (``relative_to = "random"``); elsewhere the raw score (``relative_to = "none"``).
    """
    df = tables.score_table(df)
    frames = [tables.final_trials(df, split).assign(split=split) for split in SPLITS]
    tasks = pd.concat(frames, ignore_index=True)
    tasks = tasks[tasks["task_param"].notna()]
    with_ood = set(tasks.loc[tasks["split"] == "ood", "suite"].astype(str))
    tasks = tasks[tasks["suite"].isin(sorted(with_ood))]
    if tasks.empty:
        return pd.DataFrame(columns=COLUMNS)
    keys = ["suite", "split", "seed", "trial", "task_id"]
    floor = tasks.loc[tasks["method"] == RANDOM, [*keys, "value"]].rename(columns={"value": "random_value"})
    floor = floor.groupby(keys, dropna=False, sort=False).mean().reset_index()
    has_random = set(floor["suite"])
    tasks = tasks.merge(floor, on=keys, how="left")
    relative = tasks["suite"].isin(has_random)
    tasks = tasks[~relative | (tasks["method"] != RANDOM)]
    relative = tasks["suite"].isin(has_random)
    # A trial random did not play (another seed) has no partner: it is dropped from the difference view.
    tasks = tasks[~relative | tasks["random_value"].notna()]
    relative = tasks["suite"].isin(has_random)
    tasks = tasks.assign(
        value=np.where(relative, tasks["value"] - tasks["random_value"], tasks["value"]),
        relative_to=np.where(relative, RANDOM, "none"),
        task_param=tasks["task_param"].astype("float64"),
    )
    if tasks.empty:
        return pd.DataFrame(columns=COLUMNS)
    tasks = _assign_bins(tasks)
    bin_keys = ["relative_to", "split", "param", "param_low", "param_high"]
    per_run = tasks.groupby([*tables.RUN_KEYS, *bin_keys], sort=True, observed=True).agg(
        score=("value", "mean"), n_tasks=("value", "size"), env_steps=("env_steps", "max")
    )
    per_run = per_run.reset_index()
    group = ["suite", "relative_to", "split", "method", "param", "param_low", "param_high"]
    bands = mean_over_runs(per_run, group, "score")
    extra = per_run.groupby(group, sort=True, observed=True).agg(
        n_tasks=("n_tasks", "sum"), env_steps=("env_steps", "max")
    )
    bands = bands.merge(extra.reset_index(), on=group, how="left")
    bands["score"] = [tables.score_name(str(s)) for s in bands["suite"]]
    return bands[COLUMNS]


COLUMNS = [
    "suite",
    "score",
    "relative_to",
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
    "interval",
]


def _ylabel(suite: str, relative: bool) -> str:
    name = tables.score_name(suite)
    return f"{name} minus random's, same task" if relative else f"{name} (no random runs to subtract)"


def split_segments(band: pd.DataFrame) -> list[pd.DataFrame]:
    """One method's rows of one split, sorted by parameter, cut into the runs of adjacent bins that are
    drawn as one line each (a line never spans an empty bin, nor another split)."""
    band = band.sort_values("param")
    if len(band) < 2 or not (band["param_high"] > band["param_low"]).all():
        return [band] if len(band) else []
    starts = ~np.isclose(band["param_low"].to_numpy()[1:], band["param_high"].to_numpy()[:-1])
    cuts = np.flatnonzero(starts) + 1
    return [band.iloc[a:b] for a, b in zip([0, *cuts], [*cuts, len(band)], strict=True)]


def _label_splits(ax, mine: pd.DataFrame) -> None:
    """Name each split over the span of its parameters, at the top of the panel."""
    for split in SPLITS:
        part = mine[mine["split"] == split]
        if part.empty:
            continue
        centre = (float(part["param_low"].min()) + float(part["param_high"].max())) / 2.0
        ax.text(
            centre,
            0.98,
            split.replace("_", "-"),
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=8,
            color="0.3",
            style="italic",
        )


def draw(bands: pd.DataFrame, ranges: pd.DataFrame) -> Figure:
    """The figure of :func:`compute`'s numbers and :func:`train_ranges` (inside ``plot_style``).

    Every method's meta-test and ood parts are separate lines (and a line breaks over an empty bin): the
    two splits are different task distributions, and nothing lies between them.
    """
    suites = suite_order(bands["suite"].unique())
    if not suites:
        return empty_figure("no suite has ood tasks with a task parameter in the results table")
    styles = method_styles(bands["method"].unique())
    fig, axes = panel_grid(len(suites), panel_width=4.4, panel_height=3.0)
    legend: dict[str, object] = {}
    for ax, suite in zip(axes, suites, strict=True):
        mine = bands[bands["suite"] == suite]
        relative = bool((mine["relative_to"] == RANDOM).any())
        for low, high in ranges.loc[ranges["suite"] == suite, ["low", "high"]].itertuples(index=False):
            ax.axvspan(low, high, color="0.9", linewidth=0, zorder=0)
        if relative:
            ax.axhline(0.0, color=styles.get(RANDOM, METHODS[RANDOM]).color, linewidth=1.0, zorder=2)
        for method, style in styles.items():
            for split in SPLITS:
                band = mine[(mine["method"] == method) & (mine["split"] == split)]
                for segment in split_segments(band):
                    x = segment["param"].to_numpy(dtype=float)
                    handle = draw_band(ax, x, segment, style, label=style.label)
                    line = handle[1] if isinstance(handle, tuple) else handle
                    # Open markers on meta-test tasks, filled on ood, whatever the method's marker.
                    line.set_markerfacecolor(style.color if split == "ood" else "white")
                    legend.setdefault(method, handle)
        _label_splits(ax, mine)
        steps = mine["env_steps"].max()
        ax.set_title(panel_title(suite, mine, steps), fontsize=9)
        ax.set_xlabel(task_parameter_label(suite))
        ax.set_ylabel(_ylabel(suite, relative))
    ordered = [m for m in styles if m in legend]
    key = [
        Line2D([], [], color="0.3", linestyle="none", marker="o", markerfacecolor="white"),
        Line2D([], [], color="0.3", linestyle="none", marker="o", markerfacecolor="0.3"),
        Patch(color="0.9"),
        Line2D([], [], color=METHODS[RANDOM].color, linewidth=1.0),
    ]
    legend_below(
        fig,
        [legend[m] for m in ordered],
        [styles[m].label for m in ordered],
        key=(key, ["meta-test tasks (open)", "ood tasks (filled)", "meta-train range", "Random (0)"]),
    )
    suptitle(
        fig,
        "Out of distribution: final score minus the random policy's on the same task, against the task "
        "parameter\n(mean over runs, 95 % Student-t band over runs; meta-test and ood drawn apart)",
    )
    return fig


def make(
    df: tables.Table, out_dir: str | Path, seed: int = 0, reps: int = stats.DEFAULT_REPS, *, pdf: bool = True
) -> list[Path]:
    """Write ``ood.{png,pdf,csv}`` and ``ood_train_ranges.csv`` into ``out_dir``; returns the paths."""
    out_dir = Path(out_dir)
    df = tables.score_table(df)
    bands = compute(df)
    ranges = train_ranges(df, suite_order(bands["suite"].unique()))
    with plot_style():
        paths = save_figure(draw(bands, ranges), out_dir, NAME, pdf=pdf)
    paths.append(write_csv(bands, out_dir, NAME, ["suite", "split", "method", "param"]))
    paths.append(write_csv(ranges, out_dir, "ood_train_ranges", ["suite", "low"]))
    return paths
