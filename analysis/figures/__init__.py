"""One module per figure, each with ``make(df, out_dir, seed=0, reps=..., *, pdf=True) -> list[Path]``.

A builder draws from the validated results table alone (or the :class:`analysis.tables.ScoreTable` reduced
from it) and writes a PNG, a PDF and the CSV of the numbers it plots."""

from __future__ import annotations

from analysis.figures import aggregates, fast_adaptation, ood, sample_efficiency

FIGURES = {
    "sample_efficiency": sample_efficiency.make,
    "fast_adaptation": fast_adaptation.make,
    "ood": ood.make,
    "aggregates": aggregates.make,
}
"""Figure name -> builder, in report order."""

__all__ = ["FIGURES"]
