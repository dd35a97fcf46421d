"""The Markdown report: every figure, the final numbers per method and suite, the aggregates, and how each
number was computed. Written next to the figures (it links them by relative path)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import stats, tables
from analysis.figures import aggregates
from analysis.figures._common import mean_over_runs
from analysis.style import method_order, method_styles, suite_order, write_csv

NAME = "report"

FIGURES: tuple[tuple[str, str, str], ...] = (
    (
        "sample_efficiency",
        "Sample efficiency",
        "Meta-test score against environment steps: mean over seeds, 95 % percentile-bootstrap band over "
        "seeds, each method at its own evaluation grid points.",
    ),
    (
        "fast_adaptation",
        "Fast adaptation",
        "Meta-test score in each episode of a trial at each run's final grid point: how much a method "
        "improves from its first to its last episode in a new task.",
    ),
    (
        "ood",
        "Out of distribution",
        "Score against the task parameter on meta-test (solid) and ood (dashed) tasks at the final grid "
        "point; the meta-train range is shaded. Suites without an ood split or a scalar task parameter "
        "are skipped.",
    ),
    (
        "aggregates",
        "Aggregate metrics",
        "Median, IQM, mean and optimality gap of normalized final scores over suites, with 95 % "
        "stratified-bootstrap CIs (runs resampled within each suite).",
    ),
    (
        "probability_of_improvement",
        "Probability of improvement",
        "Chance that a run of TrMRL beats a run of the other method on a suite (ties count 1/2), averaged "
        "over suites, with 95 % CIs (each method's runs resampled independently within each suite).",
    ),
    (
        "performance_profiles",
        "Performance profiles",
        "Fraction of (run, suite) normalized final scores above each threshold, with pointwise 95 % bands.",
    ),
)


def final_numbers(df: tables.Table, *, seed: int = 0, reps: int = stats.DEFAULT_REPS) -> pd.DataFrame:
    """Final meta-test score per method and suite: ``suite, score, method, n_runs, env_steps, mean, ci_low,
    ci_high`` (``env_steps``: the latest final grid point among the runs)."""
    final = tables.final_scores(tables.score_table(df), "meta_test")
    bands = mean_over_runs(final, ["suite", "method"], "score", seed=seed, reps=reps, figure="final_numbers")
    steps = final.groupby(["suite", "method"], sort=True, observed=True)["env_steps"].max().reset_index()
    bands = bands.merge(steps, on=["suite", "method"], how="left")
    bands["score"] = [tables.score_name(str(s)) for s in bands["suite"]]
    return bands[["suite", "score", "method", "n_runs", "env_steps", "mean", "ci_low", "ci_high"]]


def _fmt(value: float, digits: int) -> str:
    return f"{round(float(value), digits) + 0.0:.{digits}f}"  # + 0.0: no "-0.000"


def _interval(mean: float, low: float, high: float, digits: int) -> str:
    return f"{_fmt(mean, digits)} [{_fmt(low, digits)}, {_fmt(high, digits)}]"


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _final_table(numbers: pd.DataFrame) -> list[str]:
    methods = method_order(numbers["method"].unique())
    styles = method_styles(methods)
    rows = []
    for suite in suite_order(numbers["suite"].unique()):
        in_suite = numbers[numbers["suite"] == suite].set_index("method")
        cells = [f"{suite}: {in_suite['score'].iloc[0]}"]
        for method in methods:
            if method not in in_suite.index:
                cells.append("—")
                continue
            row = in_suite.loc[method]
            cells.append(f"{_interval(row['mean'], row['ci_low'], row['ci_high'], 1)} (n={row['n_runs']})")
        rows.append(cells)
    return _markdown_table(["suite: score", *[styles[m].label for m in methods]], rows)


def _aggregate_tables(result: aggregates.Aggregates) -> list[str]:
    styles = method_styles(result.methods)
    lines: list[str] = []
    table = result.tables["aggregates"]
    if table.empty:
        return ["No suite that every method has run could be normalized, so there are no aggregates.", ""]
    lines.append(f"Over {len(result.suites)} suite(s): {', '.join(result.suites)}.")
    lines.append("")
    header = ["method", *[aggregates.METRIC_TITLES[m] for m in stats.AGGREGATES]]
    rows = []
    for method in result.methods:
        mine = table[table["method"] == method].set_index("metric")
        rows.append(
            [styles[method].label]
            + [
                _interval(mine.loc[m, "estimate"], mine.loc[m, "ci_low"], mine.loc[m, "ci_high"], 3)
                for m in stats.AGGREGATES
            ]
        )
    lines += _markdown_table(header, rows) + [""]
    poi = result.tables["probability_of_improvement"]
    if not poi.empty:
        rows = [
            [
                f"{styles[r.method_x].label} > {styles[r.method_y].label}",
                _interval(r.probability, r.ci_low, r.ci_high, 3),
            ]
            for r in poi.itertuples(index=False)
        ]
        lines += _markdown_table(["comparison", "probability of improvement [95 % CI]"], rows) + [""]
    return lines


def _normalization_table(references: pd.DataFrame) -> list[str]:
    rows = [
        [
            r.suite,
            f"{r.low:.4g} ({r.low_from})",
            f"{r.high:.4g} ({r.high_from})",
            "yes"
            if r.aggregated
            else ("no: cannot normalize (high = low)" if not r.usable else "no: not run by every method"),
        ]
        for r in references.itertuples(index=False)
    ]
    return _markdown_table(["suite", "0 (low reference)", "1 (high reference)", "aggregated"], rows)


def make(
    df: tables.Table,
    out_dir: str | Path,
    seed: int = 0,
    reps: int = stats.DEFAULT_REPS,
    *,
    source: str = "results table",
) -> list[Path]:
    """Write ``report.md`` and ``final_numbers.csv`` into ``out_dir`` (figures are linked, not drawn here)."""
    out_dir = Path(out_dir)
    df = tables.score_table(df)
    numbers = final_numbers(df, seed=seed, reps=reps)
    result = aggregates.compute(df, seed=seed, reps=reps)
    methods = method_order(df.rows["method"].unique())
    styles = method_styles(methods)
    lines = [
        "# Results report",
        "",
        f"Generated by `python -m analysis` from {source}; bootstrap seed {seed}, {reps} resamples. "
        f"Methods: {', '.join(f'{styles[m].label} (`{m}`)' for m in methods)}. "
        f"Suites: {', '.join(suite_order(df.rows['suite'].unique()))}.",
        "",
        "## How the numbers are computed",
        "",
        "- **Score**: success rate (%) on Meta-World suites (`ml*`), undiscounted return on the others.",
        "- A task's score in an evaluation is its score in the **last episode of the trial** (after "
        "adaptation); an evaluation's score is the mean over its tasks; a run's **final** score is its "
        "meta-test score at the last `env_steps` grid point of that run.",
        "- Curves and per-suite numbers: mean over runs (seeds) with a 95 % percentile-bootstrap CI over "
        "runs. With a single run the interval is the point itself.",
        "- **Normalization** for aggregates across suites: `(score - low) / (high - low)` per suite, with "
        "`low` = the mean final score of `random` (else of the lowest method) and `high` = the best method's "
        "mean final score; Meta-World success rates are already normalized (`low` = 0 %, `high` = 100 %). "
        "The optimality gap is measured to 1.0.",
        "- Aggregates (rliable's metric set, Agarwal et al. 2021) use only the suites every method has run; "
        "their CIs come from a stratified bootstrap (runs resampled within each suite). Bootstraps are "
        "seeded per estimate, so the same table and seed give the same numbers.",
        "",
        "## Final meta-test numbers per suite",
        "",
        "Mean over runs [95 % bootstrap CI] (n = runs), at each run's last grid point.",
        "",
        *_final_table(numbers),
        "",
        "## Aggregates across suites",
        "",
        *_aggregate_tables(result),
        "Normalization references (final meta-test scores):",
        "",
        *_normalization_table(result.tables["normalization"]),
        "",
        "## Figures",
        "",
    ]
    for name, title, caption in FIGURES:
        lines += [f"### {title}", ""]
        if (out_dir / f"{name}.png").exists():
            lines += [f"![{title}]({name}.png)", "", f"{caption} Numbers: [`{name}.csv`]({name}.csv).", ""]
        else:
            lines += ["(not generated in this run)", ""]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{NAME}.md"
    path.write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")
    return [path, write_csv(numbers, out_dir, "final_numbers", ["suite", "method"])]
