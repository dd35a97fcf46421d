"""The Markdown report: what the table holds, how large the runs are against the paper's, the final numbers
with their intervals and n, the paired comparisons, the aggregates, and every figure.

Every sentence about a comparison is generated from an interval: a difference is called supported only when
its 95 % interval over paired seeds excludes 0; with one seed no interval is printed and nothing is claimed.
Written next to the figures (it links them by relative path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis import inference, markdown, stats, tables
from analysis import references as references_module
from analysis.figures import aggregates, paired, registry
from analysis.figures._common import interval_name, mean_over_runs
from analysis.style import format_steps, method_order, method_styles, suite_order, write_csv

NAME = "report"


def final_numbers(df: tables.Table) -> pd.DataFrame:
    """Final meta-test score per method and suite at the suite's common final point.

    Columns ``suite, score, method, env_steps, n_runs, mean, ci_low, ci_high, interval`` and, for success
    suites, ``n_trials, successes, cp_low, cp_high`` (exact Clopper-Pearson over the pooled trials, percent).
    """
    table = tables.score_table(df)
    final = tables.final_scores(table, "meta_test")
    bands = mean_over_runs(final, ["suite", "method"], "score")
    steps = final.groupby(["suite", "method"], sort=True)["env_steps"].max().reset_index()
    bands = bands.merge(steps, on=["suite", "method"], how="left")
    bands["score"] = [tables.score_name(str(s)) for s in bands["suite"]]
    trials = tables.final_trials(table, "meta_test")
    trials = trials[trials["suite"].map(tables.is_success)]
    pooled = trials.assign(success=trials["value"] / 100.0).groupby(["suite", "method"], sort=True)
    counts = pooled.agg(n_trials=("success", "size"), successes=("success", "sum")).reset_index()
    if not counts.empty:
        low, high = stats.clopper_pearson(counts["successes"].to_numpy(), counts["n_trials"].to_numpy())
        counts["cp_low"], counts["cp_high"] = 100.0 * low, 100.0 * high
    else:
        counts = counts.assign(cp_low=pd.Series(dtype=float), cp_high=pd.Series(dtype=float))
    bands = bands.merge(counts, on=["suite", "method"], how="left")
    columns = ["suite", "score", "method", "env_steps", "n_runs", "mean", "ci_low", "ci_high", "interval"]
    return bands[[*columns, "n_trials", "successes", "cp_low", "cp_high"]]


def _final_table(numbers: pd.DataFrame) -> list[str]:
    methods = method_order(numbers["method"].unique())
    styles = method_styles(methods)
    rows = []
    for suite in suite_order(numbers["suite"].unique()):
        in_suite = numbers[numbers["suite"] == suite].set_index("method")
        steps = format_steps(float(in_suite["env_steps"].max()))
        cells = [f"{suite}: {in_suite['score'].iloc[0]} at {steps}"]
        for method in methods:
            if method not in in_suite.index:
                cells.append("—")
                continue
            row = in_suite.loc[method]
            if tables.is_success(suite) and np.isfinite(row["n_trials"]):
                # A success rate's Student-t interval over a few seeds can leave [0, 100]; the exact
                # Clopper-Pearson interval over the pooled trials is the one shown.
                exact = f"[{markdown.fmt(row['cp_low'], 1)}, {markdown.fmt(row['cp_high'], 1)}]"
                trials = f"{int(row['successes'])}/{int(row['n_trials'])} trials"
                cell = f"{markdown.fmt(row['mean'], 1)} (n={row['n_runs']}; {trials}, pooled CP {exact})"
            else:
                cell = (
                    f"{markdown.interval(row['mean'], row['ci_low'], row['ci_high'], 1)} (n={row['n_runs']})"
                )
            cells.append(cell)
        rows.append(cells)
    return markdown.table(["suite: score at env steps", *[styles[m].label for m in methods]], rows)


def _paper_scale() -> str:
    """The paper's budget of a suite (the ``paper`` profile's; ML1-Push's is 52M) and its seeds."""
    from benchmark.profiles import PAPER_FIGURE_SEEDS, PROFILES

    steps = PROFILES["paper"].budget("halfcheetah-vel").env_steps
    return f"{format_steps(steps)} env steps per locomotion and Meta-World suite, {PAPER_FIGURE_SEEDS} seeds"


def _scale_table(df: tables.ScoreTable) -> list[str]:
    from benchmark.profiles import PAPER_FIGURE_SEEDS, PROFILES

    paper = PROFILES["paper"]
    common = tables.common_points(df).set_index("suite")
    runs = tables.run_ends(df).groupby(["suite", "method"]).size()
    rows = []
    for suite in suite_order(common.index):
        budget = float(common.loc[suite, "max_env_steps"])
        per_method = ", ".join(f"{m} {n}" for m, n in runs[suite].items())
        if suite in paper.budgets:
            paper_steps = paper.budget(suite).env_steps
            share = f"{budget / paper_steps:.2%} of {format_steps(paper_steps)}"
        else:
            share = "suite not in the paper profile"
        rows.append([suite, format_steps(budget), share, per_method, str(PAPER_FIGURE_SEEDS)])
    header = ["suite", "env steps here", "share of the paper budget", "runs here", "paper seeds"]
    return markdown.table(header, rows)


def _paired_claims(summary: pd.DataFrame) -> list[str]:
    if summary.empty:
        return ["No two methods share a seed on any suite: no paired comparison.", ""]
    styles = method_styles(set(summary["method"]) | set(summary["versus"]))
    lines = []
    for row in summary.sort_values(["suite", "split", "versus", "method"]).itertuples(index=False):
        who = f"{styles[row.method].label} − {styles[row.versus].label}"
        value = markdown.interval(row.mean_difference, row.ci_low, row.ci_high, 2)
        n = f"n = {row.n_pairs} paired seed{'s' if row.n_pairs != 1 else ''}"
        p = f"p {_p(row.p_value)}, Holm {_p(row.p_holm)} over the {row.family} family"
        if not np.isfinite(row.ci_low):
            verdict = "no interval from one pair: nothing is claimed"
        elif row.p_holm < 0.05:
            direction = "higher" if row.mean_difference > 0 else "lower"
            verdict = f"supported after Holm: {styles[row.method].label} scores {direction}"
        elif row.ci_low > 0 or row.ci_high < 0:
            verdict = "not resolved after Holm (the unadjusted interval excludes 0)"
        else:
            verdict = "not resolved: the interval includes 0"
        lines.append(f"- {row.suite} {row.split}, {who} ({row.score}): {value}, {n}, {p}; {verdict}.")
    return [*lines, ""]


def _p(value: float) -> str:
    return "—" if not np.isfinite(value) else ("< 0.001" if value < 0.001 else f"{value:.3f}")


def _aggregate_tables(result: aggregates.Aggregates) -> list[str]:
    styles = method_styles(result.methods)
    table = result.tables["aggregates"]
    if table.empty:
        return ["No suite could be aggregated (see the table of references below for why).", ""]
    lines = [f"Over {len(result.suites)} suite(s): {', '.join(result.suites)}.", ""]
    if result.left_out:
        left = "; ".join(f"{m} ({why})" for m, why in result.left_out.items())
        lines[-1:] = [f"Left out of the aggregates (not run on every aggregated suite): {left}.", ""]
    header = ["method (runs x suites)", *[aggregates.METRIC_TITLES[m] for m in stats.AGGREGATES]]
    rows = []
    for method in result.methods:
        mine = table[table["method"] == method].set_index("metric")
        rows.append(
            [f"{styles[method].label} ({int(mine['n_runs'].iloc[0])})"]
            + [
                markdown.interval(mine.loc[m, "estimate"], mine.loc[m, "ci_low"], mine.loc[m, "ci_high"], 3)
                for m in stats.AGGREGATES
            ]
        )
    lines += markdown.table(header, rows) + [""]
    poi = result.tables["probability_of_improvement"]
    if not poi.empty:
        rows = [
            [
                f"{styles[r.method_x].label} > {styles[r.method_y].label}",
                markdown.interval(r.probability, r.ci_low, r.ci_high, 3),
                f"{r.wins:g} of {r.n_pairs}",
            ]
            for r in poi.itertuples(index=False)
        ]
        header = ["paired comparison", "probability of improvement [conservative 95 %]", "wins of pairs"]
        lines += markdown.table(header, rows) + [""]
    return lines


def _references_table(status: pd.DataFrame) -> list[str]:
    refs = references_module.load()
    rows = []
    for row in status.itertuples(index=False):
        ref = refs.get(row.suite)
        low = f"{ref.lower:.4g}: {ref.lower_provenance}" if ref else "—"
        high = (f"{ref.upper:.4g} ({ref.upper_kind}): " if ref and ref.upper is not None else "none: ") + (
            ref.upper_provenance if ref else "no references for this suite"
        )
        rows.append([row.suite, low, high, row.reason])
    return markdown.table(["suite", "0 = random policy", "1 = upper reference", "aggregated"], rows)


def _incomplete(df: tables.ScoreTable) -> list[str]:
    short = tables.incomplete_runs(df)
    if short.empty:
        return ["Every run reached its suite's last grid point."]
    lines = [
        "Runs that end before their suite's last grid point (a method given a smaller budget by its "
        "profile, or a run that stopped early); the suite's aggregates compare every run at the common "
        "point (the last point all reached), and the claims read one method at its own last point:",
        "",
    ]
    rows = [
        [
            r.suite,
            r.method,
            str(r.seed),
            r.run_id,
            str(r.last_env_steps),
            str(r.suite_max_env_steps),
            str(r.compared_at),
        ]
        for r in short.itertuples(index=False)
    ]
    header = ["suite", "method", "seed", "run", "last env steps", "suite's last", "compared at"]
    return lines + markdown.table(header, rows)


def make(
    df: tables.Table,
    out_dir: str | Path,
    seed: int = 0,
    reps: int = stats.DEFAULT_REPS,
    *,
    source: str = "results table",
    provenance: list[str] | None = None,
) -> list[Path]:
    """Write ``report.md`` and ``final_numbers.csv`` into ``out_dir`` (figures are linked, not drawn here)."""
    out_dir = Path(out_dir)
    df = tables.score_table(df)
    numbers = final_numbers(df)
    result = aggregates.compute(df, seed=seed, reps=reps)
    summary, _ = paired.compute(df)
    methods = method_order(df.rows["method"].unique())
    styles = method_styles(methods)
    status = result.tables["normalization"]
    degenerate = status[status["degenerate"]]
    across = [[styles[m].label, f"`{m}`", styles[m].across_episodes] for m in methods]
    lines = [
        "# Results report",
        "",
        f"Generated by `python -m analysis` from {source}; bootstrap seed {seed}, {reps} resamples.",
        "",
        "## What the table holds",
        "",
        *[f"- {sentence}" for sentence in (provenance or ["Code version and device were not checked."])],
        "",
        f"Scale of these runs against the paper's ({_paper_scale()}): numbers from runs this much shorter "
        "show early learning, not the paper's results.",
        "",
        *_scale_table(df),
        "",
        "Methods, and whether each can carry information from one episode of a trial to the next (only then "
        "is a later episode's score an after-adaptation score):",
        "",
        *markdown.table(["method", "id", "memory across episodes"], across),
        "",
        "## How the numbers are computed",
        "",
        "- **Score**: success rate (%) where the suite catalog scores by success (Meta-World), undiscounted "
        "return elsewhere; a trial's score is its **last episode** (after the trial's exploration "
        "episodes); "
        "an evaluation's score is the mean over its trials.",
        "- **Final**: every run of a suite is compared at the suite's **common final point**, the last grid "
        "point all its runs reached.",
        "- **Intervals**: per-suite numbers and curves: 95 % Student-t interval over runs (seeds), none "
        "from a single run; success rates in the final table with a Clopper-Pearson interval over "
        "the pooled trials instead (it stays in [0, 100] but ignores between-seed spread; the CSV has "
        "both); paired differences: Student-t over paired seeds; "
        "aggregates: stratified bootstrap over runs x suites with a small-sample correction; probability "
        "of improvement and performance profiles: conservative Clopper-Pearson (the counts are not one "
        "binomial draw). Simulated coverage of these intervals at n = 3, 5, 10 is in `analysis/README.md`.",
        "- **Normalisation** (aggregates only): fixed references per suite, 0 = the random policy, 1 = a "
        "documented upper reference (table below); suites without an upper reference and degenerate suites "
        "are left out, and the aggregates keep the largest block of methods x suites in which every method "
        "ran every suite (a method outside it is named).",
        "",
        "## Final meta-test numbers per suite",
        "",
        "Mean over runs [95 % Student-t interval] (n = runs).",
        "",
        *_final_table(numbers),
        "",
    ]
    if not degenerate.empty:
        lines += [
            "**Degenerate suites** (every run of every method scores the same; nothing can be ranked there, "
            "and they are left out of the aggregates): "
            + ", ".join(
                f"{r.suite} ({r.reason.split('scores ')[-1]} for {r.methods})"
                for r in degenerate.itertuples()
            )
            + ".",
            "",
        ]
    lines += [
        *_incomplete(df),
        "",
        "## Paired comparisons at the common final point",
        "",
        "Within a seed every method faces the same tasks and reset states, so methods are compared seed by "
        "seed. Mean paired difference [95 % Student-t interval over paired seeds]:",
        "",
        *_paired_claims(summary),
        *inference.report_lines(df, seed=seed, reps=reps),
        "## Aggregates across suites",
        "",
        *_aggregate_tables(result),
        "Normalisation references and which suites were aggregated:",
        "",
        *_references_table(status),
        "",
        "## Figures",
        "",
    ]
    for output in registry.outputs():
        name, title, caption = output.file, output.title, output.caption
        lines += [f"### {title}", ""]
        if (out_dir / f"{name}.png").exists():
            lines += [f"![{title}]({name}.png)", "", f"{caption} Numbers: [`{name}.csv`]({name}.csv).", ""]
        else:
            lines += ["(not generated in this run)", ""]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{NAME}.md"
    path.write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")
    return [path, write_csv(numbers, out_dir, "final_numbers", ["suite", "method"])]


__all__ = ["final_numbers", "interval_name", "make"]
