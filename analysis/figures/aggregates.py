"""Aggregates across suites (the metric set of rliable, Agarwal et al. 2021).

From each run's final meta-test score, normalised per suite (:func:`analysis.tables.normalize`: Meta-World
success rate as a fraction; other suites ``(score - random) / (best - random)``), on the suites that every
method has run:

* ``aggregates``: median, IQM, mean and optimality gap (to 1.0) with 95 % stratified-bootstrap CIs;
* ``probability_of_improvement``: ``P(TrMRL > X)`` for every other method X, with 95 % CIs;
* ``performance_profiles``: the fraction of runs whose normalised score exceeds ``tau``, with 95 % bands.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import stats, tables
from analysis.style import (
    BAND_ALPHA,
    empty_figure,
    legend_below,
    method_order,
    method_styles,
    new_figure,
    plot_style,
    save_figure,
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


def normalized_final_scores(df: tables.Table) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[str]]:
    """``(scores, references, methods, suites)``: normalised final scores, the per-suite normalisation
    references, the methods in legend order and the suites every method has run."""
    final = tables.final_scores(tables.score_table(df), "meta_test")
    scores, references = tables.normalize(final)
    methods = method_order(scores["method"].unique())
    suites = tables.common_suites(scores, methods)
    references = references.assign(aggregated=references["suite"].isin(suites))
    return scores, references, methods, suites


@dataclass(frozen=True)
class Aggregates:
    """All numbers of the three aggregate figures."""

    methods: list[str]
    """Methods in legend order."""
    suites: list[str]
    """The suites aggregated over (every method has run them and they could be normalised)."""
    tables: dict[str, pd.DataFrame]
    """Tables named after their CSV files."""


def compute(
    df: tables.Table, *, seed: int = 0, reps: int = stats.DEFAULT_REPS, reference: str = REFERENCE
) -> Aggregates:
    """All numbers of the three aggregate figures (bootstraps seeded per method and metric)."""
    scores, references, methods, suites = normalized_final_scores(df)
    aggregate_rows, poi_rows, profile_rows = [], [], []
    if suites:
        arrays = {m: tables.per_suite_arrays(scores, m, suites, "normalized") for m in methods}
        n_runs = {m: int(sum(a.size for a in arrays[m])) for m in methods}
        for method in methods:
            for metric, statistic in stats.AGGREGATES.items():
                ci = stats.bootstrap_ci(
                    arrays[method],
                    statistic,
                    seed=stats.derive_seed(seed, "aggregates", method, metric),
                    reps=reps,
                )
                aggregate_rows.append(
                    (metric, method, len(suites), n_runs[method], ci.point, ci.low, ci.high)
                )
        if reference in methods:
            for other in methods:
                if other == reference:
                    continue
                ci = stats.bootstrap_ci_pair(
                    arrays[reference],
                    arrays[other],
                    seed=stats.derive_seed(seed, "poi", reference, other),
                    reps=reps,
                )
                poi_rows.append((reference, other, len(suites), ci.point, ci.low, ci.high))
        pooled = np.concatenate([np.concatenate(a) for a in arrays.values()])
        low = min(0.0, float(np.floor(pooled.min() * 10) / 10))
        high = max(1.0, float(np.ceil(pooled.max() * 10) / 10))
        taus = np.linspace(low, high, N_TAUS)
        for method in methods:
            profile, lo, hi = stats.performance_profile(
                arrays[method], taus, seed=stats.derive_seed(seed, "profile", method), reps=reps
            )
            profile_rows += list(zip([method] * N_TAUS, taus, profile, lo, hi, strict=True))
    numbers = {
        "aggregates": pd.DataFrame(
            aggregate_rows,
            columns=["metric", "method", "n_suites", "n_runs", "estimate", "ci_low", "ci_high"],
        ),
        "probability_of_improvement": pd.DataFrame(
            poi_rows, columns=["method_x", "method_y", "n_suites", "probability", "ci_low", "ci_high"]
        ),
        "performance_profiles": pd.DataFrame(
            profile_rows, columns=["method", "tau", "fraction_above", "ci_low", "ci_high"]
        ),
        "normalization": references,
    }
    return Aggregates(methods, suites, numbers)


def _suites_note(suites: list[str], width: int = 70) -> str:
    note = f"normalized final meta-test scores over {len(suites)} suite(s): {', '.join(suites)}"
    return "\n".join(textwrap.wrap(note, width, break_on_hyphens=False))


def _interval_figure(table: pd.DataFrame, methods: list[str], styles, suites: list[str]):
    fig = new_figure(10.0, 0.9 + 0.38 * len(methods))
    axes = fig.subplots(1, len(METRIC_TITLES), sharey=True, squeeze=False)[0]
    for ax, (metric, title) in zip(axes, METRIC_TITLES.items(), strict=True):
        rows = table[table["metric"] == metric].set_index("method")
        for y, method in enumerate(methods):
            row, color = rows.loc[method], styles[method].color
            ax.barh(
                y, row["ci_high"] - row["ci_low"], left=row["ci_low"], height=0.6, color=color, alpha=0.75
            )
            ax.vlines(row["estimate"], y - 0.3, y + 0.3, color="black", linewidth=1.2)
        ax.set_title(title)
        ax.set_xlabel("normalized score" + (" (lower is better)" if metric == "optimality_gap" else ""))
        ax.grid(axis="y", visible=False)
    axes[0].set_yticks(range(len(methods)), [styles[m].label for m in methods])
    axes[0].invert_yaxis()
    fig.suptitle(f"Aggregate metrics with 95 % stratified-bootstrap CIs\n{_suites_note(suites, 110)}")
    return fig


def _poi_figure(table: pd.DataFrame, styles, suites: list[str]):
    others = table["method_y"].tolist()
    fig = new_figure(6.0, 1.1 + 0.38 * len(others))
    ax = fig.add_subplot()
    for y, (_, row) in enumerate(table.iterrows()):
        color = styles[row["method_y"]].color
        ax.barh(y, row["ci_high"] - row["ci_low"], left=row["ci_low"], height=0.6, color=color, alpha=0.75)
        ax.vlines(row["probability"], y - 0.3, y + 0.3, color="black", linewidth=1.6)
    reference = styles[table["method_x"].iloc[0]].label
    ax.set_yticks(range(len(others)), [f"{reference} vs {styles[m].label}" for m in others])
    ax.invert_yaxis()
    ax.axvline(0.5, color="0.4", linestyle="--", linewidth=1.0)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel(f"probability of improvement P({reference} > X)")
    ax.grid(axis="y", visible=False)
    ax.set_title(f"Probability of improvement, 95 % CIs\n{_suites_note(suites)}", fontsize=9)
    return fig


def _profile_figure(table: pd.DataFrame, methods: list[str], styles, suites: list[str]):
    fig = new_figure(6.0, 4.2)
    ax = fig.add_subplot()
    handles = []
    for method in methods:
        rows = table[table["method"] == method]
        style = styles[method]
        (line,) = ax.plot(rows["tau"], rows["fraction_above"], color=style.color, label=style.label)
        ax.fill_between(
            rows["tau"], rows["ci_low"], rows["ci_high"], color=style.color, alpha=BAND_ALPHA, linewidth=0
        )
        handles.append(line)
    ax.set_xlabel(r"normalized score $\tau$")
    ax.set_ylabel(r"fraction of runs with score > $\tau$")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"Performance profiles (score distributions), 95 % CIs\n{_suites_note(suites)}", fontsize=9)
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
    nothing = "no suite that every method has run could be normalized" if not suites else None
    paths: list[Path] = []
    with plot_style():
        fig = (
            empty_figure(nothing)
            if nothing
            else _interval_figure(numbers["aggregates"], methods, styles, suites)
        )
        paths += save_figure(fig, out_dir, "aggregates", pdf=pdf)
        poi = numbers["probability_of_improvement"]
        if poi.empty:
            fig = empty_figure(nothing or f"no {REFERENCE!r} runs (or no other method) to compare")
        else:
            fig = _poi_figure(poi, styles, suites)
        paths += save_figure(fig, out_dir, "probability_of_improvement", pdf=pdf)
        profiles = numbers["performance_profiles"]
        fig = empty_figure(nothing) if nothing else _profile_figure(profiles, methods, styles, suites)
        paths += save_figure(fig, out_dir, "performance_profiles", pdf=pdf)
    paths.append(write_csv(numbers["aggregates"], out_dir, "aggregates", ["metric", "method"]))
    paths.append(write_csv(poi, out_dir, "probability_of_improvement", ["method_x", "method_y"]))
    paths.append(write_csv(profiles, out_dir, "performance_profiles", ["method", "tau"]))
    paths.append(write_csv(numbers["normalization"], out_dir, "normalization", ["suite"]))
    return paths
