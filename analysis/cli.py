"""``python -m analysis``: every figure, its CSV and the report, from the merged results table alone.

No simulator, no torch, no network: the table is read with :func:`benchmark.results.schema.read_table`
(pandas and NumPy only). A missing or malformed table prints one line on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

from analysis import stats
from benchmark.errors import BenchmarkError
from benchmark.results.schema import read_table

FIGURE_NAMES = ("sample_efficiency", "fast_adaptation", "ood", "aggregates")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Draw the paper's figures, their CSVs and a Markdown report from the results table.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--results", default="results/results.parquet", help="merged results table (parquet or CSV)"
    )
    parser.add_argument("--out", default="analysis/out", help="folder for figures, CSVs and report.md")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of every bootstrap (same seed, same numbers)"
    )
    parser.add_argument(
        "--reps", type=int, default=stats.DEFAULT_REPS, help="bootstrap resamples per estimate"
    )
    parser.add_argument(
        "--figures",
        nargs="+",
        choices=FIGURE_NAMES,
        default=list(FIGURE_NAMES),
        metavar="NAME",
        help=f"figures to draw, any of: {' '.join(FIGURE_NAMES)}",
    )
    parser.add_argument("--no-pdf", action="store_true", help="write PNG figures only (faster)")
    parser.add_argument("--no-report", action="store_true", help="skip report.md and final_numbers.csv")
    return parser


def run(
    results: str | Path,
    out: str | Path,
    *,
    seed: int = 0,
    reps: int = stats.DEFAULT_REPS,
    figures: tuple[str, ...] | list[str] = FIGURE_NAMES,
    report: bool = True,
    pdf: bool = True,
) -> list[Path]:
    """Read the table, write the chosen figures (and the report); returns every path written.

    Raises:
        BenchmarkError: the table is missing, malformed, or has no meta-test evaluations.
    """
    # Imported here so that ``--help`` answers without loading matplotlib.
    from analysis import report as report_module
    from analysis import tables
    from analysis.figures import FIGURES

    if reps < 1:
        raise BenchmarkError(f"--reps must be at least 1, got {reps}")
    path = Path(results)
    raw = read_table(path)
    df = tables.score_table(raw, validated=True)
    if tables.evaluation_scores(df, "meta_test").empty:
        raise BenchmarkError(
            f"{path}: no meta_test evaluations of a suite's score metric (return or success)"
        )
    out_dir = Path(out)
    written: list[Path] = []
    for name in figures:
        written += FIGURES[name](df, out_dir, seed=seed, reps=reps, pdf=pdf)
    if report:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        source = f"`{path.name}` ({len(raw)} rows, sha256 {digest}…)"
        written += report_module.make(df, out_dir, seed=seed, reps=reps, source=source)
    return written


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    try:
        written = run(
            args.results,
            args.out,
            seed=args.seed,
            reps=args.reps,
            figures=args.figures,
            report=not args.no_report,
            pdf=not args.no_pdf,
        )
    except (BenchmarkError, OSError) as exc:
        # One line, whatever the underlying reader put in its message.
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    print(f"wrote {len(written)} files to {args.out} in {time.perf_counter() - start:.1f} s")
    return 0
