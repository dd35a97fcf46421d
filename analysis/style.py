"""The one place that says how a method or suite looks: colour, label, order; and the fixed plot style.

Add a method here to give it a fixed colour and a display name. A method that is *not* listed still shows
up in every figure: it is labelled with its id and drawn with a colour from :data:`FALLBACK_PALETTE` that is
far (CIEDE2000, :func:`color_distance`) from every registered method's colour, and a marker and line style
no registered method uses, all chosen by its name (:func:`method_styles`), so the same method looks the same
in every table.

Figures are built with :class:`matplotlib.figure.Figure` and the Agg canvas (no pyplot, no GUI backend),
under the explicit :data:`RC` settings (the user's ``matplotlibrc`` cannot change them), and saved without
timestamps or version strings, so the same table gives byte-identical PNG, PDF and CSV files.
"""

from __future__ import annotations

import math
import textwrap
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, MaxNLocator


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
    "#ccaa00",  # gold
    "#150080",  # indigo
    "#00593b",  # dark green
    "#17becf",  # cyan
    "#e7969c",  # rose
    "#800040",  # wine
    "#594a00",  # dark olive
)
"""Colours for methods not in :data:`METHODS`: each at least :data:`MIN_COLOR_DISTANCE` (CIEDE2000) from
every registered colour and from each other, none lighter than L* = 72 (lines stay visible on white), and
no black (the aggregate and paired figures mark estimates in black)."""

MIN_COLOR_DISTANCE = 25.0
"""The least CIEDE2000 distance between an unseen method's colour and any registered method's colour: a
palette entry closer than this to a colour in :data:`METHODS` (e.g. after someone registers a method) is
skipped. About 2 is a just-noticeable difference; the orange that used to be the first fallback colour is
19 from ``trmrl-trial``'s and was reported as hard to tell from it; at 25 two thin lines differ in hue or
lightness at a glance."""

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
BAND_ALPHA = 0.08
"""Opacity of confidence bands: light, so that where several methods' bands overlap the lines on top stay
readable (bands are drawn under every line: :data:`BAND_ZORDER`, :data:`LINE_ZORDER`)."""

PROFILE_BAND_ALPHA = 0.035
"""Opacity of the performance profiles' bands (wide at a few runs, and every method's spans the figure;
thin dotted edges show where each ends)."""

BAND_ZORDER = 1.0
LINE_ZORDER = 3.0

FLOAT_FORMAT = "%.6g"
"""How every CSV writes floats (fixed, so that CSVs are byte-stable)."""


def method_order(methods: Iterable[str]) -> list[str]:
    """Legend order: known methods as listed in :data:`METHODS` (random last), then unknown ones sorted."""
    present = {str(m) for m in methods}
    known = [m for m in METHODS if m in present and m != "random"]
    unknown = sorted(present - set(METHODS))
    return known + unknown + (["random"] if "random" in present else [])


def _lab(color: str) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour."""
    linear = [((v + 0.055) / 1.055) ** 2.4 if v > 0.04045 else v / 12.92 for v in to_rgb(color)]
    x = (0.4124564 * linear[0] + 0.3575761 * linear[1] + 0.1804375 * linear[2]) / 0.95047
    y = 0.2126729 * linear[0] + 0.7151522 * linear[1] + 0.0721750 * linear[2]
    z = (0.0193339 * linear[0] + 0.1191920 * linear[1] + 0.9503041 * linear[2]) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def delta_e_2000(lab1: Sequence[float], lab2: Sequence[float]) -> float:
    """CIEDE2000 colour difference of two L*a*b* colours (Sharma, Wu and Dalal 2005)."""
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    c_bar = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_bar**7 / (c_bar**7 + 25**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360 if c1p else 0.0
    h2p = math.degrees(math.atan2(b2, a2p)) % 360 if c2p else 0.0
    dh = 0.0
    if c1p * c2p:
        dh = h2p - h1p
        dh = dh - 360 if dh > 180 else dh + 360 if dh < -180 else dh
    d_l, d_c = l2 - l1, c2p - c1p
    d_h = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2))
    l_bar, cp_bar = (l1 + l2) / 2, (c1p + c2p) / 2
    if not c1p * c2p:
        h_bar = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_bar = (h1p + h2p) / 2
    else:
        h_bar = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (
        1
        - 0.17 * math.cos(math.radians(h_bar - 30))
        + 0.24 * math.cos(math.radians(2 * h_bar))
        + 0.32 * math.cos(math.radians(3 * h_bar + 6))
        - 0.20 * math.cos(math.radians(4 * h_bar - 63))
    )
    d_theta = 30 * math.exp(-(((h_bar - 275) / 25) ** 2))
    r_c = 2 * math.sqrt(cp_bar**7 / (cp_bar**7 + 25**7))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / math.sqrt(20 + (l_bar - 50) ** 2)
    s_c, s_h = 1 + 0.045 * cp_bar, 1 + 0.015 * cp_bar * t
    r_t = -math.sin(math.radians(2 * d_theta)) * r_c
    return math.sqrt((d_l / s_l) ** 2 + (d_c / s_c) ** 2 + (d_h / s_h) ** 2 + r_t * (d_c / s_c) * (d_h / s_h))


def color_distance(a: str, b: str) -> float:
    """Perceptual distance of two colours (CIEDE2000 on CIE L*a*b*; ~2 is just noticeable)."""
    return delta_e_2000(_lab(a), _lab(b))


def fallback_palette() -> tuple[str, ...]:
    """The :data:`FALLBACK_PALETTE` entries at least :data:`MIN_COLOR_DISTANCE` from every colour in
    :data:`METHODS` (all of them if none is: never an empty palette)."""
    registered = [style.color for style in METHODS.values()]
    far = tuple(
        c for c in FALLBACK_PALETTE if all(color_distance(c, r) >= MIN_COLOR_DISTANCE for r in registered)
    )
    return far or FALLBACK_PALETTE


def _by_name(name: str, salt: str, options: Sequence, taken: set) -> Any:
    """The option that ``name`` hashes to (crc32: the same in every process), or the next one not yet
    ``taken`` by another unseen method of the same table."""
    start = zlib.crc32(f"{salt}:{name}".encode()) % len(options)
    for k in range(len(options)):
        option = options[(start + k) % len(options)]
        if option not in taken:
            return option
    return options[start]  # more unseen methods than options: colours repeat, markers tell them apart


def method_styles(methods: Iterable[str]) -> dict[str, MethodStyle]:
    """Style of every method in ``methods``, in legend order: the fixed one if known, else label = id and a
    colour, marker and line style chosen by the method's *name* (crc32), each the next free one when another
    unseen method of the same table already has it. Colours come from :func:`fallback_palette` (far from
    every registered colour), markers and line styles from :data:`FALLBACK_MARKERS` and
    :data:`FALLBACK_LINESTYLES` that no registered method uses."""
    ordered = method_order(methods)
    styles: dict[str, MethodStyle] = {}
    palette = fallback_palette()
    markers = tuple(m for m in FALLBACK_MARKERS if m not in {s.marker for s in METHODS.values()})
    linestyles = tuple(ls for ls in FALLBACK_LINESTYLES if ls not in {s.linestyle for s in METHODS.values()})
    taken: dict[str, set] = {"color": set(), "marker": set(), "linestyle": set()}
    for method in sorted(m for m in ordered if m not in METHODS):
        color = _by_name(method, "color", palette, taken["color"])
        marker = _by_name(method, "marker", markers or FALLBACK_MARKERS, taken["marker"])
        linestyle = _by_name(method, "linestyle", linestyles or FALLBACK_LINESTYLES, taken["linestyle"])
        for key, value in (("color", color), ("marker", marker), ("linestyle", linestyle)):
            taken[key].add(value)
        styles[method] = MethodStyle(method, color, marker, linestyle)
    return {m: METHODS[m] if m in METHODS else styles[m] for m in ordered}


def line_kwargs(style: MethodStyle, *, markers: bool = True) -> dict[str, Any]:
    """Keyword arguments of ``ax.plot`` for one method's line (colour, marker, line style)."""
    marker = style.marker if markers and style.marker else None
    return {
        "color": style.color,
        "marker": marker,
        "linestyle": style.linestyle,
        "markersize": 4.5,
        # Hollow markers let a method drawn later on the same point show the one under it.
        "markerfacecolor": "none" if style.marker in ("o", "s", "D") else style.color,
        "markeredgecolor": style.color,
        "zorder": LINE_ZORDER,
    }


def band_handle(style: MethodStyle, line, *, alpha: float = BAND_ALPHA) -> tuple:
    """A legend entry that shows a method's line over its shaded band (a tuple handle)."""
    return (Patch(facecolor=style.color, alpha=alpha, linewidth=0), line)


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


def integer_axis(ax, values: Iterable[float], axis: str = "x") -> None:
    """Integer ticks on an axis of counts (episodes, steps): the values themselves when there are at most
    12 of them (one episode gets the one tick ``1``, not ``0.96, 0.98, ...``), else integer steps."""
    ticks = sorted({int(round(float(v))) for v in values})
    target = ax.xaxis if axis == "x" else ax.yaxis
    if 0 < len(ticks) <= 12:
        target.set_major_locator(FixedLocator(ticks))
        if len(ticks) == 1:
            (ax.set_xlim if axis == "x" else ax.set_ylim)(ticks[0] - 0.5, ticks[0] + 0.5)
    else:
        target.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def wrap_title(text: str, width_inches: float, *, chars_per_inch: float = 12.0) -> str:
    """``text`` wrapped (each of its lines) to fit a figure ``width_inches`` wide at the title's font size."""
    width = max(30, int(width_inches * chars_per_inch))
    return "\n".join(
        "\n".join(textwrap.wrap(line, width, break_on_hyphens=False)) or line for line in text.splitlines()
    )


def suptitle(fig: Figure, text: str) -> None:
    """The figure's title, wrapped to the figure's width so that it never runs past the panels."""
    fig.suptitle(wrap_title(text, float(fig.get_figwidth())))


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
    ncols = ncols or legend_columns(fig, labels, key[1] if key is not None else None)
    if key is not None:
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


def legend_columns(
    fig: Figure, labels: list[str], key_labels: list[str] | None = None, *, max_cols: int = 6
) -> int:
    """As many legend columns (at most ``max_cols``) as fit the figure's width, laid out as
    :func:`legend_below` lays them out (``key_labels`` from a new row): each column as wide as its longest
    entry, an entry ~0.6 in of handle and padding plus ~0.065 in per character at 9 pt."""
    key_labels = key_labels or []
    for ncols in range(min(max_cols, max(len(labels), len(key_labels), 1)), 1, -1):
        layout = list(labels) + [""] * (-len(labels) % ncols) + list(key_labels)
        widths = [0.0] * ncols
        for i, label in enumerate(layout):
            widths[i % ncols] = max(widths[i % ncols], 0.6 + 0.065 * len(label))
        if sum(widths) <= float(fig.get_figwidth()):
            return ncols
    return 1


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
