"""Figures, robust statistics and the report, drawn from the merged results table alone.

``python -m analysis --results results/results.parquet --out analysis/out`` (``make figures``). Nothing here
imports torch, gymnasium, MuJoCo or Meta-World; from the harness only :mod:`benchmark.results.schema`.

Modules: :mod:`analysis.stats` (NumPy statistics with explicit seeds), :mod:`analysis.tables` (results table
-> scores), :mod:`analysis.style` (method colours/labels, fixed plot style), :mod:`analysis.figures` (one
module per figure), :mod:`analysis.report` (Markdown report), :mod:`analysis.cli`.
"""
