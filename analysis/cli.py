"""``python -m analysis``: every figure, its CSV and the report, from the merged results table alone.

No simulator, no torch, no network: the table is read with :func:`benchmark.results.schema.read_table`
(pandas and NumPy only). When the default table does not exist (a fresh clone), the committed reference
results are used instead, and the CLI says so. A missing or malformed table given explicitly prints one line
on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import pandas as pd

from analysis import stats
from analysis.figures.registry import FIGURE_NAMES
from benchmark.errors import BenchmarkError
from benchmark.files import atomic_write, atomic_write_bytes
from benchmark.results.schema import read_table

DEFAULT_RESULTS = Path("results/results.parquet")
REFERENCE_RESULTS = Path("results/reference/quick.parquet")
"""The committed results of real runs, drawn when no local table exists (a fresh clone)."""


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's formatter that appends "(default: X)", only where X tells the reader something.

    Not for an option whose default is ``None`` (its help says what happens without it), not for a flag
    (``False``), and not where the help already states its default.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default is None or action.default is False or "(default" in text:
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Draw the paper's figures, their CSVs and a Markdown report from the results table.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "--results",
        default=str(DEFAULT_RESULTS),
        help=f"merged results table (parquet or CSV); if the default is missing, {REFERENCE_RESULTS} is used",
    )
    parser.add_argument(
        "--traces",
        default=None,
        help="traces table (default: <stem>.traces.parquet beside the results table, if it exists)",
    )
    parser.add_argument(
        "--runs", default=None, help="run folders with manifest.json (default: runs/ beside the table)"
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
        help=f"figures to draw, any of: {' '.join(FIGURE_NAMES)} (default: all)",
    )
    parser.add_argument("--no-pdf", action="store_true", help="write PNG figures only (faster)")
    parser.add_argument("--no-report", action="store_true", help="skip report.md and final_numbers.csv")
    return parser


def resolve_results(results: str | Path) -> tuple[Path, str | None]:
    """The table to draw and, when it is the committed fallback, a sentence saying so.

    The fallback applies only to the default path: a table the user names must exist.
    """
    path = Path(results)
    if path.exists() or path != DEFAULT_RESULTS:
        return path, None
    root = Path(__file__).resolve().parents[1]
    fallback = REFERENCE_RESULTS if REFERENCE_RESULTS.exists() else root / REFERENCE_RESULTS
    if not fallback.exists():
        return path, None
    return fallback, f"no local table at {path}: drawing the committed reference results {REFERENCE_RESULTS}"


def find_traces(results: Path, traces: str | Path | None) -> Path | None:
    """The traces table of ``results`` (:func:`~benchmark.results.schema.traces_path_for`), if it exists;
    never a table of another name that happens to lie beside it."""
    if traces is not None:
        return Path(traces)
    from benchmark.results.schema import traces_path_for

    candidate = traces_path_for(results)
    return candidate if candidate.exists() else None


def read_traces(path: Path | None) -> pd.DataFrame | None:
    """Read and validate the traces table; ``None`` without one."""
    if path is None:
        return None
    from benchmark.results.schema import read_traces as read_trace_table

    return read_trace_table(path)


def run(
    results: str | Path,
    out: str | Path,
    *,
    seed: int = 0,
    reps: int = stats.DEFAULT_REPS,
    figures: tuple[str, ...] | list[str] = FIGURE_NAMES,
    report: bool = True,
    pdf: bool = True,
    traces: str | Path | None = None,
    runs: str | Path | None = None,
    note: str | None = None,
) -> list[Path]:
    """Read the table, write the chosen figures (and the report); returns every path written.

    Raises:
        BenchmarkError: the table is missing, malformed, or has no meta-test evaluations.
    """
    # Imported here so that ``--help`` answers without loading matplotlib.
    from analysis import provenance, tables
    from analysis import report as report_module
    from analysis.figures import registry

    if reps < 1:
        raise BenchmarkError(f"--reps must be at least 1, got {reps}")
    path = Path(results)
    raw = read_table(path)
    df = tables.score_table(raw, validated=True)
    if tables.evaluation_scores(df, "meta_test").empty:
        raise BenchmarkError(
            f"{path}: no meta_test evaluations of a suite's score metric (return or success)"
        )
    trace_path = find_traces(path, traces)
    out_dir = Path(out)
    written: list[Path] = []
    for name in figures:
        entry = registry.figure(name)
        builder = entry.load()
        if entry.reads == "traces":
            written += builder(read_traces(trace_path), out_dir, pdf=pdf)
        else:
            written += builder(df, out_dir, seed=seed, reps=reps, pdf=pdf)
    if report:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        source = f"`{path.as_posix()}` ({len(raw)} rows, sha256 {digest}…)"
        if trace_path is not None:
            source += f" and traces `{trace_path.as_posix()}`"
        if note:
            source += f" ({note})"
        runs_dir = Path(runs) if runs is not None else path.parent / "runs"
        run_ids = sorted(df.rows["run_id"].astype(str).unique())
        from benchmark.results.schema import runs_path_for

        flags = provenance.flags(run_ids, runs_dir, runs_path_for(path))
        written += report_module.make(df, out_dir, seed=seed, reps=reps, source=source, provenance=flags)
    return written


VERBS = ("claims", "power")
"""``python -m analysis claims|power ...``; without a verb it draws the figures"""


def build_claims_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis claims",
        description="Read the paper's claims (analysis/claims.csv) against results tables: paired "
        "differences with intervals, Holm-corrected tests and labels; write the side-by-side document.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--results", nargs="+", required=True, help="merged results tables (parquet)")
    parser.add_argument("--out", required=True, help="the side-by-side Markdown document to write")
    parser.add_argument("--csv", help="also write every claim's numbers as CSV here")
    parser.add_argument(
        "--readme", help="replace, in this README, the generated claims block of each table it shows"
    )
    return parser


def build_power_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis power",
        description="Per claim, the paired seeds a two-sided paired t-test needs for 80 % power at the "
        "effect and spread a pilot table shows.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--results", required=True, help="the pilot results table (parquet)")
    return parser


def claims_main(argv: list[str]) -> int:
    from analysis import claims

    args = build_claims_parser().parse_args(argv)
    try:
        evaluations = {Path(p).name: claims.evaluate(read_table(p)) for p in args.results}
        readme_text = None
        if args.readme:  # checked before anything is written: a README without a block changes nothing
            readme_text = Path(args.readme).read_text()
            shown = [name for name in evaluations if claims.has_readme_block(readme_text, name)]
            if not shown:
                tables = ", ".join(evaluations)
                raise ValueError(f"{args.readme} has no generated claims block for any of {tables}")
            for name in shown:
                block = claims.readme_block(name, evaluations[name])
                readme_text = claims.replace_readme_block(readme_text, name, block)
        atomic_write_bytes(Path(args.out), claims.side_by_side_document(evaluations).encode())
        if args.csv:
            table = pd.concat([e.assign(table=name) for name, e in evaluations.items()])
            atomic_write(Path(args.csv), lambda tmp: table.to_csv(tmp, index=False))
        if readme_text is not None:
            atomic_write_bytes(Path(args.readme), readme_text.encode())
    except (BenchmarkError, OSError, ValueError) as exc:
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    for name, evaluation in evaluations.items():
        counts = evaluation["label"].value_counts().to_dict()
        print(f"{name}: " + ", ".join(f"{n} {label}" for label, n in counts.items()))
    print(f"wrote {args.out}" + (f" and the claims block of {args.readme}" if args.readme else ""))
    return 0


def power_main(argv: list[str]) -> int:
    from analysis import claims

    args = build_power_parser().parse_args(argv)
    try:
        table = claims.power_table(read_table(args.results))
    except (BenchmarkError, OSError, ValueError) as exc:
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    if table.empty:
        print(f"{args.results}: no claim has 2 paired seeds here")
        return 0
    shown = table.assign(
        comparison=table["method"] + " − " + table["versus"],
        seeds_for_80=table["seeds_for_80"].map(lambda n: "—" if n is None or pd.isna(n) else str(int(n))),
    )
    columns = [
        "id",
        "suite",
        "split",
        "statistic",
        "comparison",
        "n",
        "mean",
        "sd",
        "power_now",
        "seeds_for_80",
    ]
    print(shown[columns].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(
        "seeds_for_80: paired seeds for 80 % power of a two-sided paired t-test (alpha 0.05, no multiplicity "
        "correction) if the true effect and spread were the observed ones; '—': no effect observed"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "claims":
        return claims_main(argv[1:])
    if argv and argv[0] == "power":
        return power_main(argv[1:])
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    results, note = resolve_results(args.results)
    print(f"results table: {results}" + (f" ({note})" if note else ""))
    try:
        written = run(
            results,
            args.out,
            seed=args.seed,
            reps=args.reps,
            figures=args.figures,
            report=not args.no_report,
            pdf=not args.no_pdf,
            traces=args.traces,
            runs=args.runs,
            note=note,
        )
    except (BenchmarkError, OSError, ValueError) as exc:
        # One line, whatever the underlying reader put in its message.
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    print(f"wrote {len(written)} files to {args.out} in {time.perf_counter() - start:.1f} s")
    return 0
