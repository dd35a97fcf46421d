"""Numbers and tables as the Markdown report writes them (one place, so every section reads alike)."""

from __future__ import annotations

import numpy as np


def fmt(value: float, digits: int) -> str:
    """``value`` rounded to ``digits`` decimals, never ``-0.000``."""
    return f"{round(float(value), digits) + 0.0:.{digits}f}"


def signed(value: float, digits: int) -> str:
    """:func:`fmt` with an explicit ``+`` on positive values (differences)."""
    text = fmt(value, digits)
    return text if text.startswith("-") or float(text) == 0 else "+" + text


def interval(mean: float, low: float, high: float, digits: int, *, sign: bool = False) -> str:
    """``mean [low, high]``, or ``mean (no interval)`` when a bound is not finite."""
    show = signed if sign else fmt
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{show(mean, digits)} (no interval)"
    return f"{show(mean, digits)} [{show(low, digits)}, {show(high, digits)}]"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table, ``|`` in cells escaped."""

    def cells(row: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"

    return [cells(header), "|" + "|".join(["---"] * len(header)) + "|"] + [cells(row) for row in rows]
