"""Inference over the whole curve and since the start (:mod:`analysis.inference`): the AUC figure and the
tables behind the report's sections on gains since the start and sample efficiency.

``auc``: one panel per suite, one row per method: each run's area under the meta-test curve over the suite's
common evaluation grid (divided by its span; normalised 0 = random, 1 = upper reference where the suite has
references) as dots, the mean over runs as a black marker and its 95 % Student-t interval over runs as a bar
(none from one run). The CSVs it writes besides ``auc.csv``: ``auc_per_run``, ``gains_since_start``,
``gains_at_own_end``, ``untrained_differences``, ``steps_to_threshold`` and ``ranks`` (see
:mod:`analysis.inference`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis import inference, stats, tables
from analysis.style import (
    empty_figure,
    method_styles,
    panel_grid,
    plot_style,
    save_figure,
    suite_order,
    write_csv,
)

NAME = "auc"


def _figure(auc, per_run):
    own = auc[auc["versus"] == ""]
    suites = suite_order(own["suite"].unique())
    styles = method_styles(own["method"].unique())
    height = 0.9 + 0.32 * len(styles)
    fig, axes = panel_grid(len(suites), panel_width=3.6, panel_height=height)
    for ax, suite in zip(axes, suites, strict=True):
        mine = own[own["suite"] == suite].set_index("method")
        ordered = [m for m in styles if m in mine.index]
        for y, method in enumerate(ordered):
            row, style = mine.loc[method], styles[method]
            if np.isfinite(row["ci_low"]):
                ax.hlines(y, row["ci_low"], row["ci_high"], color=style.color, linewidth=3.0, alpha=0.6)
            runs = per_run[(per_run["suite"] == suite) & (per_run["method"] == method)]
            ax.plot(runs["auc"], np.full(len(runs), y + 0.22), "o", color=style.color, markersize=3)
            ax.plot(row["mean"], y, marker="|", color="black", markersize=8)
        unit = str(mine["unit"].iloc[0])
        if unit.startswith("normalised"):
            for level in (0.0, 1.0):
                ax.axvline(level, color="0.3", linestyle="--", linewidth=1.0)
            ax.set_xlabel("normalised AUC (0 = random, 1 = upper ref.)")
        else:
            ax.set_xlabel(f"AUC ({unit})")
        ax.set_yticks(range(len(ordered)), [styles[m].label for m in ordered])
        ax.set_ylim(len(ordered) - 0.4, -0.6)
        ax.grid(axis="y", visible=False)
        n = int(mine["n"].max())
        ax.set_title(f"{suite} · grid {mine['grid'].iloc[0]} · n = {n}", fontsize=9)
    fig.suptitle(
        "Area under the meta-test curve over the common grid, per span: dots = runs, "
        "bar = 95 % Student-t interval over runs"
    )
    return fig


def make(
    df: tables.Table, out_dir: str | Path, seed: int = 0, reps: int = stats.DEFAULT_REPS, *, pdf: bool = True
) -> list[Path]:
    """Write ``auc.{png,pdf,csv}`` and the CSVs of :mod:`analysis.inference` into ``out_dir``."""
    out_dir = Path(out_dir)
    result = inference.compute(df, seed=seed, reps=reps).tables
    auc, per_run = result["auc"], result["auc_per_run"]
    with plot_style():
        fig = (
            empty_figure("no suite has a common evaluation grid of two or more points")
            if auc.empty
            else _figure(auc, per_run)
        )
        paths = save_figure(fig, out_dir, NAME, pdf=pdf)
    for name, frame in result.items():
        paths.append(write_csv(frame, out_dir, name, inference.SORT_KEYS[name]))
    return paths
