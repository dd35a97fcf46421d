"""Helpers shared by the figure modules: Student-t bands over runs and drawing one method's curve."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis import stats, tables
from analysis.style import (
    BAND_ALPHA,
    BAND_ZORDER,
    MethodStyle,
    band_handle,
    empty_figure,
    format_steps,
    legend_below,
    line_kwargs,
    method_styles,
    panel_grid,
    runs_note,
    suite_order,
    suptitle,
)

BAND_COLUMNS = ["n_runs", "mean", "ci_low", "ci_high", "interval"]
RANDOM = "random"


def interval_name(n: int) -> str:
    """What the interval in a CSV row is: a Student-t interval over ``n`` runs, or none at ``n`` = 1."""
    return f"95% Student-t over {n} runs" if n >= 2 else "none (1 run)"


def mean_over_runs(
    frame: pd.DataFrame,
    by: list[str],
    value: str,
    *,
    bounds: Callable[[tuple], tuple[float, float] | None] | None = None,
) -> pd.DataFrame:
    """Mean of ``value`` over the rows (one per run) of each ``by`` group, with a 95 % Student-t interval
    over runs (NaN bounds and ``interval = "none (1 run)"`` for a single run).

    ``bounds(key)``: the range the mean cannot leave for the group ``key`` (e.g. ``(0, 100)`` for a success
    rate in percent), or ``None``; an interval reaching past it is clipped to it and its ``interval`` says
    so (:func:`clip_interval`).
    """
    rows = []
    for key, group in frame.groupby(by, sort=True, observed=True):
        key = key if isinstance(key, tuple) else (key,)
        values = group[value].to_numpy(dtype=np.float64)
        ci = stats.t_interval(values)
        low, high, name = ci.low, ci.high, interval_name(values.size)
        limits = bounds(key) if bounds is not None else None
        if limits is not None:
            low, high, name = clip_interval(low, high, name, limits)
        rows.append((*key, values.size, ci.point, low, high, name))
    return pd.DataFrame(rows, columns=[*by, *BAND_COLUMNS])


def clip_interval(
    low: float, high: float, name: str, limits: tuple[float, float]
) -> tuple[float, float, str]:
    """``(low, high, name)`` with the bounds clipped to ``limits`` (the range the statistic cannot leave),
    and ``name`` saying so when anything was clipped."""
    lo, hi = limits
    if not (np.isfinite(low) and np.isfinite(high)):
        return low, high, name
    clipped_low, clipped_high = max(low, lo), min(high, hi)
    if (clipped_low, clipped_high) != (low, high):
        if np.isinf(hi):
            name += f", clipped at {lo:g} (the least possible value)"
        elif np.isinf(lo):
            name += f", clipped at {hi:g} (the largest possible value)"
        else:
            name += f", clipped to [{lo:g}, {hi:g}] (the possible range)"
    return clipped_low, clipped_high, name


def success_bounds(key: tuple) -> tuple[float, float] | None:
    """``bounds`` for :func:`mean_over_runs` when ``key`` starts with the suite: [0, 100] for a success
    rate in percent, none for a return."""
    return (0.0, 100.0) if tables.is_success(str(key[0])) else None


def draw_band(ax, x, band: pd.DataFrame, style: MethodStyle, *, label: str | None, markers: bool = True):
    """A mean line over its light shaded interval (none where the interval is NaN); returns the legend
    handle: the line, or (band, line) when a band was drawn."""
    (line,) = ax.plot(x, band["mean"], label=label, **line_kwargs(style, markers=markers))
    low, high = band["ci_low"].to_numpy(dtype=float), band["ci_high"].to_numpy(dtype=float)
    if np.isfinite(low).any():
        ax.fill_between(x, low, high, color=style.color, alpha=BAND_ALPHA, linewidth=0, zorder=BAND_ZORDER)
        return band_handle(style, line)
    return line


def draw_random_reference(ax, level: float, low: float, high: float, style: MethodStyle):
    """The random policy as a horizontal reference line (it does not learn), with its interval if any;
    returns the legend handle (line, or band and line)."""
    line = ax.axhline(level, color=style.color, linestyle=style.linestyle, linewidth=1.2, zorder=2)
    if np.isfinite(low) and np.isfinite(high):
        ax.axhspan(low, high, color=style.color, alpha=BAND_ALPHA, linewidth=0, zorder=0)
        return band_handle(style, line)
    return line


def random_levels(scores: pd.DataFrame, group: list[str]) -> pd.DataFrame:
    """The random method's level per ``group``: per run the mean over all its evaluations, then the mean and
    Student-t interval over runs. Columns ``group + BAND_COLUMNS``."""
    rand = scores[scores["method"] == RANDOM]
    per_run = rand.groupby([*group, "run_id"], sort=True, observed=True)["score"].mean().reset_index()
    return mean_over_runs(per_run, group, "score", bounds=success_bounds if group[0] == "suite" else None)


def fix_score_axis(ax, suite: str) -> None:
    """Success rates on a fixed [0, 100] axis, so that panels and figures compare at a glance."""
    if tables.is_success(suite):
        ax.set_ylim(-2.0, 102.0)


def panel_title(suite: str, bands: pd.DataFrame, steps: float | None = None) -> str:
    """``suite``, its budget in env steps and the runs per method, for every panel title."""
    mine = bands[bands["suite"] == suite]
    runs = mine.groupby("method", observed=True)["n_runs"].max()
    budget = steps if steps is not None else mine["env_steps"].max() if "env_steps" in mine else None
    parts = [suite]
    if budget is not None and np.isfinite(budget):
        parts.append(f"{format_steps(float(budget))} env steps")
    parts.append(f"{runs_note(runs.to_numpy())}/method")
    return " · ".join(parts)


MIXED_BUDGET_RATIO = 3.0
"""A suite whose methods' last evaluation points differ by this factor or more (the ``metaworld`` profile:
1M env steps for TrMRL and PEARL, 5M for the others) gets a second panel over the range every method
reached, where the shorter runs would otherwise fill only the first part of a shared axis."""


def common_reach(bands: pd.DataFrame, x: str, suite: str) -> float | None:
    """The last ``x`` every learning method of ``suite`` reached, when the longest run went at least
    :data:`MIXED_BUDGET_RATIO` times further; else ``None`` (one panel is enough)."""
    mine = bands[(bands["suite"] == suite) & (bands["method"] != RANDOM)]
    if mine.empty:
        return None
    reach = mine.groupby("method", observed=True)[x].max()
    shortest, longest = float(reach.min()), float(reach.max())
    return shortest if shortest > 0 and longest >= MIXED_BUDGET_RATIO * shortest else None


def suite_panels(
    bands: pd.DataFrame,
    x: str,
    *,
    label_axes: Callable[..., None],
    title: str,
    random: pd.DataFrame | None = None,
    budgets: dict[str, float] | None = None,
    zoom_mixed_budgets: bool = False,
) -> Figure:
    """One panel per suite and one banded line per method over ``bands[x]``, with one legend below.

    ``random`` (suite-level rows of :func:`random_levels`) draws the random policy as a horizontal
    reference instead of a curve. ``label_axes(ax, suite)`` labels each panel's axes; a table without
    rows gets a figure that says so. ``zoom_mixed_budgets`` adds, after a suite whose methods ran very
    different budgets (:func:`common_reach`), a panel of the same lines up to the point every method
    reached. Call inside :func:`analysis.style.plot_style`.
    """
    suites = suite_order(bands["suite"].unique())
    if not suites:
        return empty_figure("no meta_test evaluations in the results table")
    panels: list[tuple[str, float | None]] = []
    for suite in suites:
        panels.append((suite, None))
        reach = common_reach(bands, x, suite) if zoom_mixed_budgets else None
        if reach is not None:
            panels.append((suite, reach))
    styles = method_styles(bands["method"].unique())
    fig, axes = panel_grid(len(panels))
    legend: dict[str, object] = {}
    for ax, (suite, reach) in zip(axes, panels, strict=True):
        for method, style in styles.items():
            if method == RANDOM and random is not None:
                level = random[random["suite"] == suite]
                if not level.empty:
                    row = level.iloc[0]
                    line = draw_random_reference(ax, row["mean"], row["ci_low"], row["ci_high"], style)
                    legend.setdefault(method, line)
                continue
            band = bands[(bands["suite"] == suite) & (bands["method"] == method)]
            if reach is not None:
                band = band[band[x] <= reach]
            if band.empty:
                continue
            line = draw_band(ax, band[x].to_numpy(dtype=float), band, style, label=style.label)
            legend.setdefault(method, line)
        heading = (
            panel_title(suite, bands, (budgets or {}).get(suite))
            if reach is None
            else f"{suite} · the first {format_steps(reach)} env steps, which every method ran"
        )
        ax.set_title(heading, fontsize=9)
        label_axes(ax, suite)
        fix_score_axis(ax, suite)
        if reach is not None:
            ax.set_xlim(right=reach * 1.03)
    ordered = [m for m in styles if m in legend]
    labels = [
        styles[m].label + (" (mean of all evaluations)" if m == RANDOM and random is not None else "")
        for m in ordered
    ]
    legend_below(fig, [legend[m] for m in ordered], labels)
    suptitle(fig, title)
    return fig
