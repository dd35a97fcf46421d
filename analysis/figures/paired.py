"""Paired differences: each method against TrMRL and against the random policy, seed by seed.

Within a seed every method faces the same tasks and reset states (the protocol seeds them from the run's
seed), so the comparison is paired: per suite, split and seed, a method's final score (at the suite's common
final point) minus the other method's, on ``meta_test`` and, where the suite has it, on ``ood`` (the paper's
out-of-distribution claim is a paired comparison on that split). The figure shows every seed's difference
as a dot and the mean over seeds with a 95 % Student-t interval over the paired differences (none from a
single pair); an interval that excludes 0 is a difference the runs support.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis import stats, tables
from analysis.figures._common import interval_name
from analysis.style import (
    empty_figure,
    method_styles,
    new_figure,
    plot_style,
    save_figure,
    suite_order,
    write_csv,
)
from benchmark.suites.base import META_TEST, OOD

NAME = "paired_differences"
VERSUS = ("trmrl", "random")
SPLITS = (META_TEST, OOD)


def compute(df: tables.Table) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(summary, per_seed)``.

    ``summary``: ``suite, split, score, method, versus, env_steps, n_pairs, mean_difference, ci_low, ci_high,
    interval, p_value`` (two-sided paired t-test), ``p_holm`` (Holm-adjusted within ``family``: one
    ``versus`` on one split, over every suite and method). ``per_seed``: ``suite, split, seed, method,
    versus, score, versus_score, difference``.
    """
    scores = tables.score_table(df)
    per_seed = []
    steps = {}
    for split in SPLITS:
        final = tables.final_scores(scores, split)
        if final.empty:
            continue
        steps.update(
            {(suite, split): int(n) for suite, n in final.groupby("suite")["env_steps"].max().items()}
        )
        methods = list(method_styles(final["method"].unique()))
        for versus in VERSUS:
            if versus not in methods:
                continue
            for method in methods:
                if method == versus or (versus != "random" and method == "random"):
                    continue  # random - X is X - random with the sign flipped
                pairs = tables.paired_by_seed(final, method, versus)
                per_seed.append(pairs.assign(split=split, method=method, versus=versus))
    columns = ["suite", "split", "seed", "method", "versus", "score", "versus_score", "difference"]
    per_seed_frame = (
        pd.concat(per_seed, ignore_index=True)[columns] if per_seed else pd.DataFrame(columns=columns)
    )
    rows = []
    keys = ["suite", "split", "method", "versus"]
    for (suite, split, method, versus), group in per_seed_frame.groupby(keys, sort=True):
        diff = group["difference"].to_numpy(dtype=np.float64)
        ci = stats.t_interval(diff)
        rows.append(
            (
                suite,
                split,
                tables.score_name(suite),
                method,
                versus,
                steps[(suite, split)],
                diff.size,
                ci.point,
                ci.low,
                ci.high,
                interval_name(diff.size).replace("runs", "paired seeds"),
                stats.paired_p_value(diff),
            )
        )
    summary = pd.DataFrame(
        rows,
        columns=[
            "suite",
            "split",
            "score",
            "method",
            "versus",
            "env_steps",
            "n_pairs",
            "mean_difference",
            "ci_low",
            "ci_high",
            "interval",
            "p_value",
        ],
    )
    # One family per (versus, split): every method against TrMRL (or random) over every suite, as the
    # figure shows them together; Holm's step-down keeps the chance of any false "supported" at 5 %.
    summary["p_holm"] = np.nan
    summary["family"] = summary["versus"] + " / " + summary["split"]
    for _, index in summary.groupby("family", sort=False).groups.items():
        summary.loc[index, "p_holm"] = stats.holm(summary.loc[index, "p_value"].to_numpy(dtype=np.float64))
    return summary, per_seed_frame


def _figure(summary: pd.DataFrame, per_seed: pd.DataFrame):
    suites = suite_order(summary["suite"].unique())
    styles = method_styles(set(summary["method"]) | set(summary["versus"]))
    present = set(zip(summary["suite"], summary["split"], summary["versus"], strict=True))
    panels = [(s, p, v) for s in suites for p in SPLITS for v in VERSUS if (s, p, v) in present]
    cols = 2
    rows = int(np.ceil(len(panels) / cols))
    fig = new_figure(9.0, 0.9 + rows * (0.6 + 0.4 * max(1, summary["method"].nunique())))
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[len(panels) :]:
        ax.remove()
    for ax, (suite, split, versus) in zip(axes, panels, strict=False):
        mine = summary[
            (summary["suite"] == suite) & (summary["split"] == split) & (summary["versus"] == versus)
        ]
        ordered = [m for m in styles if m in set(mine["method"])]
        for y, method in enumerate(ordered):
            row = mine[mine["method"] == method].iloc[0]
            style = styles[method]
            if np.isfinite(row["ci_low"]):
                ax.hlines(y, row["ci_low"], row["ci_high"], color=style.color, linewidth=3.0, alpha=0.6)
            ax.plot(
                row["mean_difference"],
                y,
                marker=style.marker or "|",
                color="black",
                markerfacecolor="white",  # readable on a bar of any colour, dark ones too
                markersize=6,
            )
            seeds = per_seed[
                (per_seed["suite"] == suite)
                & (per_seed["split"] == split)
                & (per_seed["method"] == method)
                & (per_seed["versus"] == versus)
            ]
            ax.plot(seeds["difference"], np.full(len(seeds), y + 0.22), "o", color=style.color, markersize=3)
        ax.axvline(0.0, color="0.3", linestyle="--", linewidth=1.0)
        ax.set_yticks(range(len(ordered)), [styles[m].label for m in ordered])
        ax.set_ylim(len(ordered) - 0.4, -0.6)
        ax.grid(axis="y", visible=False)
        n = int(mine["n_pairs"].max())
        ax.set_title(
            f"{suite}, {split.replace('_', '-')}: X − {styles[versus].label} · "
            f"{n} paired seed{'s' if n != 1 else ''}",
            fontsize=9,
        )
        ax.set_xlabel(f"difference in final {tables.score_label(suite, split)}")
    fig.suptitle(
        "Paired differences at the common final point: dots = seeds, bar = 95 % Student-t interval over seeds"
    )
    return fig


def make(
    df: tables.Table, out_dir: str | Path, seed: int = 0, reps: int = 0, *, pdf: bool = True
) -> list[Path]:
    """Write ``paired_differences.{png,pdf,csv}`` and ``paired_differences_per_seed.csv``."""
    out_dir = Path(out_dir)
    summary, per_seed = compute(df)
    with plot_style():
        fig = (
            empty_figure("no two methods share a seed on any suite (nothing to pair)")
            if summary.empty
            else _figure(summary, per_seed)
        )
        paths = save_figure(fig, out_dir, NAME, pdf=pdf)
    paths.append(write_csv(summary, out_dir, NAME, ["suite", "split", "versus", "method"]))
    paths.append(
        write_csv(per_seed, out_dir, f"{NAME}_per_seed", ["suite", "split", "versus", "method", "seed"])
    )
    return paths
