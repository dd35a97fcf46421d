"""Aggregates across suites (the metric set of rliable, Agarwal et al. 2021), on fixed references.

From each run's final meta-test score (at its suite's common final point), normalised per suite with the
fixed references of :mod:`analysis.references` (0 = the random policy, 1 = a documented upper reference), on
the suites that every method has run, that have an upper reference, and on which the methods do not all
score the same (a degenerate suite, e.g. 0 % success everywhere, ranks nothing and is left out):

* ``aggregates``: median, IQM, mean and optimality gap (to 1.0), each with a 95 % interval from rliable's
  stratified bootstrap over runs x suites read as a standard error with the small-sample correction of
  :func:`analysis.stats.aggregate_ci` (the plain percentile interval covers ~75 % at 3 runs);
* ``probability_of_improvement``: on *paired* data (within a seed all methods face the same tasks and reset
  states), the fraction of (suite, seed) pairs in which TrMRL beats the other method (ties count 1/2), with a
  conservative Clopper-Pearson 95 % interval on that count;
* ``performance_profiles``: the fraction of runs whose normalised score exceeds ``tau``, a step function,
  with conservative Clopper-Pearson 95 % bands on the count of runs.

Why "conservative", not "exact": Clopper-Pearson is exact for a count of independent draws with *one*
success probability. Here the draws (paired comparisons, or runs) come from several suites with different
probabilities, and ties count 1/2: a count of independent draws with unequal probabilities varies less than
a binomial count with their mean probability (Hoeffding 1956), so the interval covers the average
probability at least 95 % of the time but is wider than it needs to be. Every interval lies in the range
its statistic can take: Clopper-Pearson bounds lie in [0, 1], and the optimality gap's interval (point ±
t · se) is clipped at 0, the least gap there is; its ``interval`` says so where that happened.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import references as references_module
from analysis import stats, tables
from analysis.figures._common import clip_interval
from analysis.style import (
    BAND_ZORDER,
    PROFILE_BAND_ALPHA,
    band_handle,
    empty_figure,
    legend_below,
    line_kwargs,
    method_order,
    method_styles,
    new_figure,
    plot_style,
    runs_note,
    save_figure,
    suptitle,
    write_csv,
)

REFERENCE = "trmrl"
"""The method whose probability of improvement over every other method is shown."""

METRIC_TITLES = {
    "median": "Median",
    "iqm": "IQM",
    "mean": "Mean",
    "optimality_gap": "Optimality gap",
}
N_TAUS = 101
INTERVAL = "95% stratified bootstrap SE x Student-t (small-sample corrected)"
RANGES: dict[str, tuple[float, float]] = {"optimality_gap": (0.0, np.inf)}
"""The range an aggregate cannot leave (normalised scores themselves are unbounded: a method may score
below random or above the upper reference): the optimality gap ``1 - mean(min(score, 1))`` is never
negative."""
CP_NAME = "95% conservative Clopper-Pearson"


def suite_status(final: pd.DataFrame, refs: dict[str, references_module.Reference]) -> pd.DataFrame:
    """Per suite: its references, whether it is degenerate, and whether (and why not) it is aggregated.

    Columns ``suite, metric, lower, upper, upper_kind, degenerate, methods, aggregated, reason``. Which
    suites and methods are aggregated is :func:`aggregated_block`'s choice.
    """
    methods = method_order(final["method"].unique())
    degenerate = tables.degenerate_suites(final)
    rows = []
    for suite in sorted(final["suite"].unique()):
        ref = refs.get(suite)
        reason = ""
        if ref is None:
            reason = "no references for this suite in analysis/references.csv"
        elif not ref.usable:
            reason = "no documented upper reference"
        elif suite in degenerate:
            reason = f"degenerate: every run of every method scores {degenerate[suite]:.4g}"
        have = sorted(final.loc[final["suite"] == suite, "method"].unique())
        rows.append(
            {
                "suite": suite,
                "metric": tables.score_metric(suite),
                "lower": ref.lower if ref else np.nan,
                "upper": ref.upper if ref and ref.upper is not None else np.nan,
                "upper_kind": ref.upper_kind if ref else "none",
                "degenerate": suite in degenerate,
                "methods": " ".join(have),
                "aggregated": not reason,
                "reason": reason or "aggregated",
            }
        )
    status = pd.DataFrame(rows)
    if status.empty:
        return status
    candidates = status.loc[status["aggregated"], "suite"].tolist()
    _, suites, _ = aggregated_block(final, methods, candidates)
    dropped = status["aggregated"] & ~status["suite"].isin(suites)
    status.loc[dropped, "aggregated"] = False
    status.loc[dropped, "reason"] = "not run by every aggregated method (the largest block is kept)"
    return status


def aggregated_block(
    final: pd.DataFrame, methods: list[str], candidates: list[str]
) -> tuple[list[str], list[str], dict[str, str]]:
    """``(methods, suites, left_out)``: the largest block of methods x suites in which every method ran
    every suite, among the ``candidates`` (suites with usable references, not degenerate).

    Aggregates compare methods on the same suites. Rather than shrinking every method to the suites that
    all of them ran (one method run on one suite would reduce the comparison to that suite), the block
    with the most (method, suite) cells is kept, more suites winning a tie, and a method outside it is
    named with what it ran (``left_out``): the figures' notes and the report show both.
    """
    ran = {m: set(final.loc[final["method"] == m, "suite"].astype(str)) & set(candidates) for m in methods}
    best: tuple[int, int, list[str], list[str]] = (0, 0, [], [])
    for block in {frozenset(have) for have in ran.values() if have}:
        members = [m for m in methods if block <= ran[m]]
        cells = len(members) * len(block)
        if (cells, len(block)) > best[:2]:
            best = (cells, len(block), members, sorted(block))
    _, _, members, suites = best
    left_out = {
        m: f"ran {len(ran[m] & set(suites))} of the {len(suites)} aggregated suites"
        for m in methods
        if m not in members
    }
    return members, suites, left_out


def normalized_final_scores(
    df: tables.Table, refs: dict[str, references_module.Reference] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[str], dict[str, str]]:
    """``(scores, status, methods, suites, left_out)``: final scores with a ``normalized`` column (suites
    with usable references), the per-suite status, the aggregated methods in legend order, the aggregated
    suites, and the methods left out of the aggregates with the reason (:func:`aggregated_block`)."""
    refs = references_module.load() if refs is None else refs
    final = tables.final_scores(tables.score_table(df), "meta_test")
    status = suite_status(final, refs)
    usable = {s: r for s, r in refs.items() if r.usable}
    scores = final[final["suite"].isin(usable)].copy()
    lower = scores["suite"].map({s: r.lower for s, r in usable.items()})
    upper = scores["suite"].map({s: r.upper for s, r in usable.items()})
    scores["normalized"] = (scores["score"] - lower) / (upper - lower)
    everyone = method_order(final["method"].unique())
    candidates = status.loc[status["aggregated"], "suite"].tolist() if not status.empty else []
    methods, suites, left_out = aggregated_block(final, everyone, candidates)
    return scores, status, methods, suites, left_out


@dataclass(frozen=True)
class Aggregates:
    """All numbers of the three aggregate figures."""

    methods: list[str]
    """Methods in legend order."""
    suites: list[str]
    """The suites aggregated over."""
    tables: dict[str, pd.DataFrame]
    """Tables named after their CSV files."""
    left_out: dict[str, str]
    """Methods outside the aggregated block, with what they ran."""


def paired_poi(final: pd.DataFrame, reference: str, other: str, suites: list[str]) -> tuple:
    """``(n_pairs, wins, probability, ci_low, ci_high)``: ``reference`` beating ``other`` on paired seeds."""
    pairs = tables.paired_by_seed(final[final["suite"].isin(suites)], reference, other)
    if pairs.empty:
        return 0, 0.0, np.nan, np.nan, np.nan
    diff = pairs["difference"].to_numpy()
    wins = float(np.sum(diff > 0) + 0.5 * np.sum(diff == 0))
    low, high = stats.clopper_pearson(wins, diff.size)
    return diff.size, wins, wins / diff.size, float(low), float(high)


def compute(
    df: tables.Table,
    *,
    seed: int = 0,
    reps: int = stats.DEFAULT_REPS,
    reference: str = REFERENCE,
    refs: dict[str, references_module.Reference] | None = None,
) -> Aggregates:
    """All numbers of the three aggregate figures (bootstraps seeded per method and metric).

    Computed once per score table, seed, reps and reference (:meth:`analysis.tables.ScoreTable.derive`): the
    figures and the report read the same bootstrap. Explicit ``refs`` are not cached.
    """
    table = tables.score_table(df)
    if refs is not None:
        return _compute(table, seed, reps, reference, refs)
    result: Aggregates = table.derive(
        ("aggregates", seed, reps, reference), lambda: _compute(table, seed, reps, reference, None)
    )
    return result


def _compute(
    df: tables.Table,
    seed: int,
    reps: int,
    reference: str,
    refs: dict[str, references_module.Reference] | None,
) -> Aggregates:
    scores, status, methods, suites, left_out = normalized_final_scores(df, refs)
    aggregate_rows, poi_rows, profile_rows = [], [], []
    if suites:
        arrays = {m: tables.per_suite_arrays(scores, m, suites, "normalized") for m in methods}
        for method in methods:
            n_runs = int(sum(a.size for a in arrays[method]))
            for metric, statistic in stats.AGGREGATES.items():
                ci = stats.aggregate_ci(
                    arrays[method],
                    statistic,
                    seed=stats.derive_seed(seed, "aggregates", method, metric),
                    reps=reps,
                )
                interval = INTERVAL if np.isfinite(ci.low) else "none (a suite has 1 run)"
                low, high = ci.low, ci.high
                if metric in RANGES and np.isfinite(low):
                    low, high, interval = clip_interval(low, high, interval, RANGES[metric])
                aggregate_rows.append((metric, method, len(suites), n_runs, ci.point, low, high, interval))
        if reference in methods:
            final = tables.final_scores(tables.score_table(df), "meta_test")
            for other in methods:
                if other != reference:
                    n_pairs, wins, p, low, high = paired_poi(final, reference, other, suites)
                    interval = f"{CP_NAME} over {n_pairs} paired (suite, seed) comparisons"
                    poi_rows.append((reference, other, len(suites), n_pairs, wins, p, low, high, interval))
        pooled = np.concatenate([np.concatenate(a) for a in arrays.values()])
        low = min(0.0, float(np.floor(pooled.min() * 10) / 10))
        high = max(1.0, float(np.ceil(pooled.max() * 10) / 10))
        taus = np.linspace(low, high, N_TAUS)
        for method in methods:
            runs = np.concatenate(arrays[method])
            above = (runs[None, :] > taus[:, None]).sum(axis=1)
            lo, hi = stats.clopper_pearson(above, runs.size)
            fraction = above / runs.size
            interval = f"{CP_NAME} over {runs.size} (run, suite) scores"
            profile_rows += [
                (method, t, f, a, b, runs.size, interval)
                for t, f, a, b in zip(taus, fraction, lo, hi, strict=True)
            ]
    numbers = {
        "aggregates": pd.DataFrame(
            aggregate_rows,
            columns=["metric", "method", "n_suites", "n_runs", "estimate", "ci_low", "ci_high", "interval"],
        ),
        "probability_of_improvement": pd.DataFrame(
            poi_rows,
            columns=[
                "method_x",
                "method_y",
                "n_suites",
                "n_pairs",
                "wins",
                "probability",
                "ci_low",
                "ci_high",
                "interval",
            ],
        ),
        "performance_profiles": pd.DataFrame(
            profile_rows,
            columns=["method", "tau", "fraction_above", "ci_low", "ci_high", "n_scores", "interval"],
        ),
        "normalization": status,
    }
    return Aggregates(methods, suites, numbers, left_out)


def suites_note(suites: list[str], left_out: dict[str, str], width: int = 70) -> str:
    note = (
        f"normalized final meta-test scores (0 = random, 1 = upper reference) over {len(suites)} suite(s): "
    )
    note += ", ".join(suites)
    if left_out:
        note += "; left out: " + ", ".join(f"{m} ({why})" for m, why in left_out.items())
    return "\n".join(textwrap.wrap(note, width, break_on_hyphens=False))


def _interval_figure(
    table: pd.DataFrame, methods: list[str], styles, suites: list[str], left_out: dict[str, str]
):
    fig = new_figure(10.0, 1.1 + 0.38 * len(methods))
    axes = fig.subplots(1, len(METRIC_TITLES), sharey=True, squeeze=False)[0]
    for ax, (metric, title) in zip(axes, METRIC_TITLES.items(), strict=True):
        rows = table[table["metric"] == metric].set_index("method")
        for y, method in enumerate(methods):
            row, color = rows.loc[method], styles[method].color
            if np.isfinite(row["ci_low"]):
                ax.barh(
                    y, row["ci_high"] - row["ci_low"], left=row["ci_low"], height=0.6, color=color, alpha=0.6
                )
            ax.plot(
                row["estimate"],
                y,
                marker=styles[method].marker or "|",
                color="black",
                markerfacecolor="white",  # readable on a bar of any colour, dark ones too
                markersize=6,
            )
        ax.set_title(title)
        ax.set_xlabel("normalized score" + (" (lower is better)" if metric == "optimality_gap" else ""))
        ax.grid(axis="y", visible=False)
    labels = [
        f"{styles[m].label} ({runs_note([table.loc[table['method'] == m, 'n_runs'].max()])})" for m in methods
    ]
    axes[0].set_yticks(range(len(methods)), labels)
    axes[0].invert_yaxis()
    clipped = (
        "; optimality gap clipped at 0, its least value"
        if table["interval"].str.contains("clipped").any()
        else ""
    )
    suptitle(
        fig,
        f"Aggregate metrics, 95 % intervals (small-sample corrected{clipped})\n"
        f"{suites_note(suites, left_out, 110)}",
    )
    return fig


def _poi_figure(table: pd.DataFrame, styles, suites: list[str], left_out: dict[str, str]):
    others = table["method_y"].tolist()
    fig = new_figure(6.4, 1.3 + 0.38 * len(others))
    ax = fig.add_subplot()
    for y, (_, row) in enumerate(table.iterrows()):
        color = styles[row["method_y"]].color
        if np.isfinite(row["ci_low"]):
            ax.barh(y, row["ci_high"] - row["ci_low"], left=row["ci_low"], height=0.6, color=color, alpha=0.6)
            ax.vlines(row["probability"], y - 0.3, y + 0.3, color="black", linewidth=1.6)
    reference = styles[table["method_x"].iloc[0]].label
    ax.set_yticks(
        range(len(others)),
        [
            f"{reference} vs {styles[m].label} ({n} pairs)"
            for m, n in zip(others, table["n_pairs"], strict=True)
        ],
    )
    ax.invert_yaxis()
    ax.axvline(0.5, color="0.4", linestyle="--", linewidth=1.0)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel(f"P({reference} > X) on paired (suite, seed) final scores")
    ax.grid(axis="y", visible=False)
    ax.set_title(
        "Probability of improvement, 95 % conservative Clopper-Pearson intervals\n"
        + suites_note(suites, left_out),
        fontsize=9,
    )
    return fig


def _profile_figure(
    table: pd.DataFrame, methods: list[str], styles, suites: list[str], left_out: dict[str, str]
):
    fig = new_figure(6.0, 4.4)
    ax = fig.add_subplot()
    handles = []
    for method in methods:
        rows = table[table["method"] == method]
        style = styles[method]
        kwargs = line_kwargs(style, markers=False)
        (line,) = ax.step(
            rows["tau"], rows["fraction_above"], where="post", label=style.label, linewidth=1.9, **kwargs
        )
        # A faint fill and thin edges: at a few runs every band spans most of the figure, and filled bands
        # of five methods would add up to one grey block.
        ax.fill_between(
            rows["tau"],
            rows["ci_low"],
            rows["ci_high"],
            step="post",
            color=style.color,
            alpha=PROFILE_BAND_ALPHA,
            linewidth=0,
            zorder=BAND_ZORDER,
        )
        for edge in ("ci_low", "ci_high"):
            ax.step(
                rows["tau"],
                rows[edge],
                where="post",
                color=style.color,
                linewidth=0.6,
                alpha=0.5,
                linestyle=(0, (1, 2)),
                zorder=BAND_ZORDER + 0.5,
            )
        handles.append(band_handle(style, line, alpha=PROFILE_BAND_ALPHA * 2))
    ax.set_xlabel(r"normalized score $\tau$ (0 = random, 1 = upper reference)")
    ax.set_ylabel(r"fraction of runs with score > $\tau$")
    ax.set_ylim(-0.02, 1.02)
    n = int(table["n_scores"].max())
    ax.set_title(
        f"Performance profiles (up to {n} runs x suites per method),\n95 % conservative Clopper-Pearson "
        "bands, dotted edges\n" + suites_note(suites, left_out),
        fontsize=9,
    )
    legend_below(fig, handles, [styles[m].label for m in methods], ncols=min(len(methods), 4))
    return fig


def make(
    df: tables.Table, out_dir: str | Path, seed: int = 0, reps: int = stats.DEFAULT_REPS, *, pdf: bool = True
) -> list[Path]:
    """Write ``aggregates``, ``probability_of_improvement`` and ``performance_profiles`` (PNG, PDF, CSV) and
    ``normalization.csv`` into ``out_dir``; returns the paths."""
    out_dir = Path(out_dir)
    result = compute(df, seed=seed, reps=reps)
    numbers, methods, suites = result.tables, result.methods, result.suites
    styles = method_styles(methods)
    nothing = "no suite can be aggregated (see normalization.csv for why)" if not suites else None
    paths: list[Path] = []
    with plot_style():
        fig = (
            empty_figure(nothing)
            if nothing
            else _interval_figure(numbers["aggregates"], methods, styles, suites, result.left_out)
        )
        paths += save_figure(fig, out_dir, "aggregates", pdf=pdf)
        poi = numbers["probability_of_improvement"]
        if poi.empty:
            fig = empty_figure(nothing or f"no {REFERENCE!r} runs (or no other method) to compare")
        else:
            fig = _poi_figure(poi, styles, suites, result.left_out)
        paths += save_figure(fig, out_dir, "probability_of_improvement", pdf=pdf)
        profiles = numbers["performance_profiles"]
        fig = (
            empty_figure(nothing)
            if nothing
            else _profile_figure(profiles, methods, styles, suites, result.left_out)
        )
        paths += save_figure(fig, out_dir, "performance_profiles", pdf=pdf)
    paths.append(write_csv(numbers["aggregates"], out_dir, "aggregates", ["metric", "method"]))
    paths.append(write_csv(poi, out_dir, "probability_of_improvement", ["method_x", "method_y"]))
    paths.append(write_csv(profiles, out_dir, "performance_profiles", ["method", "tau"]))
    paths.append(write_csv(numbers["normalization"], out_dir, "normalization", ["suite"]))
    return paths
