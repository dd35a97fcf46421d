"""Helpers shared by the figure modules: confidence bands over runs and drawing one method's curve."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import stats
from analysis.style import BAND_ALPHA, MethodStyle

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
