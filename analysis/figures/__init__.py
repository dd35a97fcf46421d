"""One module per figure, each with ``make(df, out_dir, seed=0, reps=..., *, pdf=True) -> list[Path]``.

A builder draws from the validated results table alone (or the :class:`analysis.tables.ScoreTable` reduced
from it) and writes a PNG, a PDF and the CSV of the numbers it plots. The online-adaptation figure draws from
the traces table instead (:func:`analysis.figures.online_adaptation.make`, called by the CLI)."""

from __future__ import annotations

from analysis.figures import aggregates, fast_adaptation, ood, paired, per_class, sample_efficiency

FIGURES = {
    "sample_efficiency": sample_efficiency.make,
    "fast_adaptation": fast_adaptation.make,
    "ood": ood.make,
    "per_class": per_class.make,
    "paired": paired.make,
    "aggregates": aggregates.make,
}
"""Figure name -> builder, in report order."""

__all__ = ["FIGURES"]
