"""One module per figure, each with ``make(df, out_dir, seed=0, reps=..., *, pdf=True) -> list[Path]``.

A builder draws from the validated results table alone (or the :class:`analysis.tables.ScoreTable` reduced
from it) and writes a PNG, a PDF and the CSV of the numbers it plots; the online-adaptation builder reads the
traces table instead. :mod:`analysis.figures.registry` lists every builder, its input, the files it writes
and their captions; this package imports nothing, so the registry loads without matplotlib."""
