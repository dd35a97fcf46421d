"""Helpers shared by the figure modules: confidence bands over runs and drawing one method's curve."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis import stats
from analysis.style import (
    BAND_ALPHA,
    MethodStyle,
    empty_figure,
    legend_below,
    method_styles,
    panel_grid,
    suite_order,
)

BAND_COLUMNS = ["n_runs", "mean", "ci_low", "ci_high"]


def mean_over_runs(
    frame: pd.DataFrame, by: list[str], value: str, *, seed: int, reps: int, figure: str
) -> pd.DataFrame:
    """Mean of ``value`` over the rows (one per run) of each ``by`` group, with a 95 % percentile-bootstrap
    interval over runs. Each group's bootstrap is seeded from ``seed`` and the group's key, so a group's
    interval does not depend on which other groups (methods, suites) are in the table."""
    rows = []
    for key, group in frame.groupby(by, sort=True, observed=True):
        key = key if isinstance(key, tuple) else (key,)
        values = group[value].to_numpy(dtype=np.float64)
        ci = stats.mean_ci(values, seed=stats.derive_seed(seed, figure, *map(str, key)), reps=reps)
        rows.append((*key, values.size, ci.point, ci.low, ci.high))
    return pd.DataFrame(rows, columns=[*by, *BAND_COLUMNS])


def draw_band(ax, x, band: pd.DataFrame, style: MethodStyle, *, label: str | None, **line_kwargs):
    """A mean line with its shaded interval; returns the line (for the legend)."""
    (line,) = ax.plot(x, band["mean"], color=style.color, label=label, **line_kwargs)
    ax.fill_between(x, band["ci_low"], band["ci_high"], color=style.color, alpha=BAND_ALPHA, linewidth=0)
    return line


def suite_panels(bands: pd.DataFrame, x: str, *, label_axes: Callable[..., None], title: str) -> Figure:
    """One panel per suite and one banded line per method over ``bands[x]``, with one legend below.

    ``label_axes(ax, suite)`` labels each panel's axes; a table without meta_test rows gets a figure that
    says so. Call inside :func:`analysis.style.plot_style`.
    """
    suites = suite_order(bands["suite"].unique())
    if not suites:
        return empty_figure("no meta_test evaluations in the results table")
    styles = method_styles(bands["method"].unique())
    fig, axes = panel_grid(len(suites))
    legend: dict[str, object] = {}
    for ax, suite in zip(axes, suites, strict=True):
        for method, style in styles.items():
            band = bands[(bands["suite"] == suite) & (bands["method"] == method)]
            if band.empty:
                continue
            line = draw_band(ax, band[x].to_numpy(dtype=float), band, style, label=style.label, marker="o")
            legend.setdefault(method, line)
        ax.set_title(suite)
        label_axes(ax, suite)
    ordered = [m for m in styles if m in legend]
    legend_below(fig, [legend[m] for m in ordered], [styles[m].label for m in ordered])
    fig.suptitle(title)
    return fig
