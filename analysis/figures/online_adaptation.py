"""Online adaptation: the reward at every step of a meta-test trial, at the final evaluation point.

The paper's ``plot_online_adaptation.py`` figure (6 episodes x 200 steps on the locomotion suites), drawn from
the traces table (``<stem>.traces.parquet`` beside the results table: one row per step of every trial at each
run's final evaluation point). Per run, the reward at step ``t`` is averaged over the run's meta-test trials;
the figure shows the mean over runs with a 95 % Student-t band over runs (the runs, not the trials, are the
independent units). Dotted vertical lines mark where episodes start. TrMRL's within-episode adaptation shows
as the rise at the start of every episode; adaptation across episodes as a higher level in later episodes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats as scipy_stats

from analysis import tables
from analysis.figures._common import interval_name
from analysis.style import (
    BAND_ALPHA,
    BAND_ZORDER,
    band_handle,
    empty_figure,
    format_steps,
    integer_axis,
    legend_below,
    line_kwargs,
    method_styles,
    panel_grid,
    plot_style,
    runs_note,
    save_figure,
    suite_order,
    suptitle,
    write_csv,
)

NAME = "online_adaptation"
TRACE_COLUMNS = [
    "run_id",
    "method",
    "suite",
    "split",
    "seed",
    "env_steps",
    "trial",
    "task_id",
    "episode",
    "step",
]


def compute(traces: pd.DataFrame, split: str = "meta_test") -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(curves, boundaries)``: per suite, method and step the mean reward over runs with its Student-t
    interval (``suite, method, step, env_steps, n_runs, mean, ci_low, ci_high, interval``), and per suite
    the step at which each episode starts (``suite, episode, first_step``: the median over trials)."""
    missing = [c for c in [*TRACE_COLUMNS, "reward"] if c not in traces.columns]
    if missing:
        raise ValueError(f"traces table lacks column(s) {missing}")
    rows = traces[traces["split"] == split]
    rows = tables.final_rows(rows.astype({"method": str, "suite": str, "run_id": str}))
    per_run = rows.groupby([*tables.RUN_KEYS, "env_steps", "step"], sort=True)["reward"].mean().reset_index()
    grouped = per_run.groupby(["suite", "method", "step"], sort=True)
    curves = grouped.agg(
        env_steps=("env_steps", "max"),
        n_runs=("reward", "size"),
        mean=("reward", "mean"),
        sd=("reward", "std"),
    ).reset_index()
    n = curves["n_runs"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = scipy_stats.t.ppf(0.975, np.where(n > 1, n - 1, np.nan)) * curves["sd"] / np.sqrt(n)
    curves["ci_low"] = curves["mean"] - half
    curves["ci_high"] = curves["mean"] + half
    curves["interval"] = [interval_name(int(k)) for k in curves["n_runs"]]
    curves = curves.drop(columns="sd")
    starts = rows.groupby(["suite", "run_id", "trial", "episode"], sort=True)["step"].min().reset_index()
    boundaries = starts.groupby(["suite", "episode"], sort=True)["step"].median().rename("first_step")
    return curves, boundaries.reset_index()


def draw(curves: pd.DataFrame, boundaries: pd.DataFrame, *, traces_missing: bool = False) -> Figure:
    """The figure of :func:`compute`'s numbers (call inside :func:`analysis.style.plot_style`)."""
    suites = suite_order(curves["suite"].unique())
    if not suites:
        return empty_figure(
            "no traces table (<stem>.traces.parquet beside the results table): no online-adaptation figure"
            if traces_missing
            else "the traces table has no meta_test trials"
        )
    styles = method_styles(curves["method"].unique())
    fig, axes = panel_grid(len(suites), panel_width=5.4, panel_height=3.0, max_cols=2)
    legend: dict[str, object] = {}
    for ax, suite in zip(axes, suites, strict=True):
        mine = curves[curves["suite"] == suite]
        for method, style in styles.items():
            line = mine[mine["method"] == method]
            if line.empty:
                continue
            x = line["step"].to_numpy(dtype=float)
            (handle,) = ax.plot(x, line["mean"], linewidth=1.0, **line_kwargs(style, markers=False))
            if line["ci_low"].notna().any():
                ax.fill_between(
                    x,
                    line["ci_low"],
                    line["ci_high"],
                    color=style.color,
                    alpha=BAND_ALPHA,
                    linewidth=0,
                    zorder=BAND_ZORDER,
                )
                handle = band_handle(style, handle)
            legend.setdefault(method, handle)
        edges = boundaries[(boundaries["suite"] == suite) & (boundaries["episode"] > 1)]
        for step in edges["first_step"]:
            ax.axvline(step - 0.5, color="0.35", linestyle=":", linewidth=0.9)
        runs = mine.groupby("method")["n_runs"].max().to_numpy()
        ax.set_title(
            f"{suite} · at {format_steps(float(mine['env_steps'].max()))} env steps · "
            f"{runs_note(runs)}/method",
            fontsize=9,
        )
        ax.set_xlabel("step of the trial (dotted: episode starts)")
        ax.set_ylabel("reward per step")
        integer_axis(ax, mine["step"])
    ordered = [m for m in styles if m in legend]
    legend_below(fig, [legend[m] for m in ordered], [styles[m].label for m in ordered])
    suptitle(
        fig,
        "Online adaptation: reward at each step of a meta-test trial\n"
        "(mean over runs of the mean over trials, 95 % Student-t band over runs)",
    )
    return fig


def make(traces: pd.DataFrame | None, out_dir: str | Path, *, pdf: bool = True) -> list[Path]:
    """Write ``online_adaptation.{png,pdf,csv}`` into ``out_dir`` (a placeholder without a traces table)."""
    out_dir = Path(out_dir)
    if traces is None:
        curves, boundaries = pd.DataFrame(columns=["suite", "method", "step"]), pd.DataFrame()
    else:
        curves, boundaries = compute(traces)
    with plot_style():
        paths = save_figure(draw(curves, boundaries, traces_missing=traces is None), out_dir, NAME, pdf=pdf)
    paths.append(write_csv(curves, out_dir, NAME, ["suite", "method", "step"]))
    return paths
