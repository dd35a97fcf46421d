"""The one place that says how a method or suite looks: colour, label, order; and the fixed plot style.

Add a method here to give it a fixed colour and a display name. A method that is *not* listed still shows
up in every figure: it is labelled with its id and coloured from :data:`FALLBACK_PALETTE` in the sorted
order of the unknown methods present, so the same table always gives the same colours.

Figures are built with :class:`matplotlib.figure.Figure` and the Agg canvas (no pyplot, no GUI backend),
under the explicit :data:`RC` settings (the user's ``matplotlibrc`` cannot change them), and saved without
timestamps or version strings, so the same table gives byte-identical PNG, PDF and CSV files.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D


@dataclass(frozen=True)
class MethodStyle:
    """How one method is drawn: distinct in colour, marker *and* line style, so figures survive greyscale."""

    label: str
    color: str
    marker: str = "o"
    linestyle: str | tuple = "-"
    across_episodes: str = "unknown"
    """Whether the method can carry information from one episode of a trial to the next (``yes``/``no``):
    only then is its last-episode score an "after adaptation" score."""


METHODS: dict[str, MethodStyle] = {
    "trmrl": MethodStyle("TrMRL", "#d62728", "o", "-", "no"),
    "rl2": MethodStyle("RL²", "#1f77b4", "s", "--", "yes"),
    "maml": MethodStyle("MAML-TRPO", "#2ca02c", "^", "-.", "yes"),
    "pearl": MethodStyle("PEARL", "#9467bd", "D", (0, (1, 1)), "yes"),
    "trmrl-trial": MethodStyle("TrMRL, trial memory", "#b15928", "d", (0, (6, 2)), "yes"),
    "random": MethodStyle("Random", "#7f7f7f", "", (0, (4, 2, 1, 2)), "no"),
}
"""Known methods, in legend order (``random`` is always drawn last, as the floor).

``across_episodes``: TrMRL's faithful default clears its 5-token window at every episode start (the original
``RL2Worker.rollout`` calls ``reset_observations()``), so it adapts within an episode only; RL² keeps its
recurrent state over the trial; MAML takes its inner step after the exploration episodes; PEARL updates its
posterior from them; ``trmrl-trial`` (the registry's ablation, ``memory_scope="trial"``) keeps its window."""

FALLBACK_PALETTE: tuple[str, ...] = (
    "#ff7f0e",  # orange
    "#17becf",  # cyan
    "#8c564b",  # brown
    "#e377c2",  # pink
    "#bcbd22",  # olive
    "#393b79",  # indigo
    "#637939",  # moss
    "#843c39",  # dark red
    "#7b4173",  # plum
    "#3182bd",  # light blue
)
"""Colours for methods not in :data:`METHODS`; none of them is used by a known method."""

FALLBACK_MARKERS: tuple[str, ...] = ("v", "P", "X", "*", "<", ">", "h", "p")
"""Markers for methods not in :data:`METHODS` (none used by a known method)."""

FALLBACK_LINESTYLES: tuple[str | tuple, ...] = (
    (0, (5, 1)),
    (0, (3, 1, 1, 1, 1, 1)),
    (0, (8, 3)),
    (0, (2, 2)),
)
"""Line styles for methods not in :data:`METHODS`."""


def suites_in_catalog() -> tuple[str, ...]:
    """Known suites in figure order: the order of the suite catalog (``benchmark.suites.SUITES``)."""
    from benchmark.suites import SUITES

    return tuple(SUITES)


def train_range(suite: str) -> tuple[float, float] | None:
    """The ``task_param`` range of a catalog suite's ``meta_train`` split (shaded in the OOD figure), or
    ``None`` for a suite without one or not in the catalog (its range is then read off the table)."""
    from benchmark.suites import SUITES

    entry = SUITES.get(suite)
    return entry.train_range if entry is not None else None


RC: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.0,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 9.0,
    "legend.frameon": False,
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
    "lines.linewidth": 1.6,
    "lines.markersize": 3.5,
    "figure.dpi": 100.0,
    "savefig.dpi": 150.0,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.05,
    "pdf.fonttype": 3,
    "svg.hashsalt": "trmrl-bench",
    "path.simplify": False,
}
BAND_ALPHA = 0.2
"""Opacity of confidence bands."""

FLOAT_FORMAT = "%.6g"
"""How every CSV writes floats (fixed, so that CSVs are byte-stable)."""


def method_order(methods: Iterable[str]) -> list[str]:
    """Legend order: known methods as listed in :data:`METHODS` (random last), then unknown ones sorted."""
    present = {str(m) for m in methods}
    known = [m for m in METHODS if m in present and m != "random"]
    unknown = sorted(present - set(METHODS))
    return known + unknown + (["random"] if "random" in present else [])


def method_styles(methods: Iterable[str]) -> dict[str, MethodStyle]:
    """Style of every method in ``methods``: the fixed one if known, else label = id and a palette colour,
    marker and line style (in the sorted order of the unknown methods, so the same table always gives the
    same styles)."""
    ordered = method_order(methods)
    unknown = sorted(m for m in ordered if m not in METHODS)
    styles = {}
    for method in ordered:
        if method in METHODS:
            styles[method] = METHODS[method]
        else:
            i = unknown.index(method)
            styles[method] = MethodStyle(
                method,
                FALLBACK_PALETTE[i % len(FALLBACK_PALETTE)],
                FALLBACK_MARKERS[i % len(FALLBACK_MARKERS)],
                FALLBACK_LINESTYLES[i % len(FALLBACK_LINESTYLES)],
            )
    return styles


def line_kwargs(style: MethodStyle, *, markers: bool = True) -> dict[str, Any]:
    """Keyword arguments of ``ax.plot`` for one method's line (colour, marker, line style)."""
    marker = style.marker if markers and style.marker else None
    return {
        "color": style.color,
        "marker": marker,
        "linestyle": style.linestyle,
        "markersize": 4.5,
        "markerfacecolor": "white" if style.marker in ("o", "s", "D") else style.color,
        "markeredgecolor": style.color,
    }


def suite_order(suites: Iterable[str]) -> list[str]:
    """Known suites in catalog order, then unknown ones sorted."""
    present = {str(s) for s in suites}
    known = suites_in_catalog()
    return [s for s in known if s in present] + sorted(present - set(known))


def format_steps(steps: float) -> str:
    """``64000`` -> ``"64k"``, ``50000000`` -> ``"50M"`` (titles)."""
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(steps) >= size:
            return f"{steps / size:.3g}{unit}"
    return f"{int(steps)}"


def runs_note(counts: Iterable[int]) -> str:
    """``"n = 3 runs"`` or ``"n = 2-3 runs"``: the runs behind a panel, per method."""
    values = sorted({int(c) for c in counts})
    if not values:
        return "no runs"
    span = str(values[0]) if len(values) == 1 else f"{values[0]}-{values[-1]}"
    return f"n = {span} run{'s' if values[-1] != 1 else ''}"


def task_parameter_label(suite: str) -> str:
    """Axis label of a suite's ``task_param``: the catalog's parameter name, else ``"task parameter"``."""
    from benchmark.suites import SUITES

    entry = SUITES.get(suite)
    return entry.param_name if entry is not None and entry.param_name else "task parameter"


# --------------------------------------------------------------------------------------------------------
# Figures and files


@contextmanager
def plot_style() -> Iterator[None]:
    """Matplotlib defaults plus :data:`RC`, whatever the user's ``matplotlibrc`` says."""
    with mpl.rc_context():
        mpl.rcdefaults()
        mpl.rcParams.update(RC)  # type: ignore[arg-type]  # (stubs want literal keys)
        yield


def new_figure(width: float, height: float) -> Figure:
    """A figure on the Agg canvas with constrained layout (call inside :func:`plot_style`)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def grid_shape(n: int, max_cols: int = 3) -> tuple[int, int]:
    """(rows, cols) of a subplot grid holding ``n`` panels."""
    cols = max(1, min(max_cols, n))
    return math.ceil(max(n, 1) / cols), cols


def panel_grid(n: int, *, panel_width: float = 3.6, panel_height: float = 2.8, max_cols: int = 3):
    """A figure with ``n`` panels in a grid; unused cells are removed. Returns ``(fig, axes list)``."""
    rows, cols = grid_shape(n, max_cols)
    fig = new_figure(panel_width * cols, panel_height * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.remove()
    return fig, axes[:n]


def steps_axis(ax) -> None:
    """x-axis of environment steps, in scientific notation (``×10^6`` offset)."""
    ax.set_xlabel("environment steps")
    ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 0), useMathText=True)


def legend_below(
    fig: Figure,
    handles: list,
    labels: list[str],
    ncols: int | None = None,
    *,
    key: tuple[list, list[str]] | None = None,
) -> None:
    """One legend for the whole figure, outside and under the panels, read row by row.

    ``key`` (handles, labels) starts on a row of its own after the methods (line styles, shading).
    """
    if not handles:
        return
    ncols = ncols or min(len(labels), 6)
    if key is not None:
        ncols = max(ncols, len(key[0]))
        pad = -len(handles) % ncols
        handles = list(handles) + [_blank()] * pad + list(key[0])
        labels = list(labels) + [""] * pad + list(key[1])
    rows = math.ceil(len(handles) / ncols)
    pad = rows * ncols - len(handles)
    handles, labels = list(handles) + [_blank()] * pad, list(labels) + [""] * pad
    # Matplotlib fills legend columns first; reorder so that the legend reads row by row.
    order = [r * ncols + c for c in range(ncols) for r in range(rows)]
    fig.legend(
        [handles[i] for i in order], [labels[i] for i in order], loc="outside lower center", ncols=ncols
    )


def _blank() -> Line2D:
    return Line2D([], [], linestyle="none", marker="none")


def empty_figure(message: str) -> Figure:
    """A small figure that says why there is nothing to plot (the files still exist)."""
    fig = new_figure(5.0, 1.2)
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    return fig


def save_figure(fig: Figure, out_dir: Path, name: str, *, pdf: bool = True) -> list[Path]:
    """Write ``name.png`` (and ``name.pdf``) without timestamps or version strings (byte-stable)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.png"]
    fig.savefig(paths[0], format="png", metadata={"Software": None})
    if pdf:
        paths.append(out_dir / f"{name}.pdf")
        fig.savefig(
            paths[1], format="pdf", metadata={"CreationDate": None, "Producer": None, "Creator": None}
        )
    return paths


def write_csv(frame: pd.DataFrame, out_dir: Path, name: str, sort_by: list[str]) -> Path:
    """Write the numbers a figure plots: rows sorted, fixed float format, ``\\n`` line ends."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.csv"
    ordered = frame.sort_values(sort_by, kind="mergesort").reset_index(drop=True) if len(frame) else frame
    ordered.to_csv(path, index=False, float_format=FLOAT_FORMAT, lineterminator="\n")
    return path
