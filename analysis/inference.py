"""Inference from the results table alone: what each method gained since its untrained start, how much score
it collected over the whole curve, when it first reached a threshold, and how sure the method ordering is.

Every number comes with its interval and its n (runs or paired seeds); nothing is read off pointwise means.

* **Gains since the start** (:func:`gains_since_start`): per run, the score at the suite's common final
  point minus the *same run's* score at ``env_steps = 0`` (the untrained agent: same seed, so the same tasks
  and reset states); the mean over runs with a 95 % Student-t interval over seeds (none from one run), on
  ``meta_test`` and, where a suite has it, ``ood``. Two checks go with it, both paired by seed at
  ``env_steps = 0``: whether the untrained agent already scores above the random policy (ant-dir's survival
  bonus and halfcheetah-vel's control cost reward standing still over flailing, so "above random" is not
  evidence of learning there), and whether the methods' untrained agents already differ from each other
  (:func:`untrained_differences`), so that a difference in final scores is not read as a difference in
  learning. Where a profile gives some methods a larger budget, the same gain is also read at each
  method's own final point (``gains_at_own_end``): what it reached, not a comparison at equal env steps.
* **Area under the curve** (:func:`auc_per_run`, :func:`auc_summary`): per run, the trapezoid of the
  meta-test score over the suite's **common evaluation grid** (the ``env_steps`` at which *every* run of the
  suite was evaluated, so nothing is interpolated and every method is integrated over the same points)
  divided by the grid's span: the mean score over training. Normalised with the fixed references of
  :mod:`analysis.references` where the suite has a usable one (0 = random policy, 1 = upper reference),
  else in the score's own unit. Per method a Student-t interval over runs; against TrMRL a Student-t
  interval over the per-seed differences.
* **Env steps to a threshold** (:func:`steps_to_threshold`): the first grid point of the common grid at
  which a run's meta-test score reaches the threshold. Default threshold (``THRESHOLD_FRACTION``): half-way
  from the random policy to the upper reference (normalised 0.5); a suite without a usable reference uses
  half-way from the random method's mean final score to the best method's mean final score in the table
  (this one moves when a method is added; the ``threshold_rule`` column says which rule applies). A run
  that never reaches it is **censored** at the last grid point ("> budget"). Rule: a mean and Student-t
  interval only when every run reached the threshold; otherwise the number of runs that did, and the
  median over runs with censored runs counted as "> budget" (a number only when more than half reached).
* **Ranks** (:func:`rank_probabilities`): per suite, of the final meta-test score and of the AUC. Seeds are
  resampled with replacement within each method (each method's runs first spread by ``sqrt(n / (n - 1))``
  around their mean, as :func:`analysis.stats.aggregate_ci` does, so the resampled variance is the
  unbiased one), the method means ranked (1 = highest; ties share their ranks equally), and the frequency
  of each rank reported with the mean rank and the 2.5-97.5 % percentiles of the rank. Each method's
  resamples are seeded from ``--seed``, the suite, the quantity and the method
  (:func:`analysis.stats.derive_seed`), so the output is deterministic. With 3 seeds a bootstrap still
  understates the uncertainty (its resampled means never leave the range of the runs, while the Student-t
  quantile at 2 degrees of freedom is 4.3): read the probabilities as a summary of the spread, and the
  paired intervals for whether one method beats another.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis import markdown, stats, tables
from analysis import references as references_module
from analysis.figures._common import RANDOM, interval_name
from analysis.style import format_steps, method_order, method_styles, suite_order
from benchmark.suites.base import META_TEST, OOD

REFERENCE = "trmrl"
"""The method every other method's AUC is compared with, seed by seed (as in the paired figure)."""

THRESHOLD_FRACTION = 0.5
"""Default threshold of :func:`steps_to_threshold`: this fraction of the way from random to the upper
reference."""

SPLITS = (META_TEST, OOD)


def paired_interval_name(n: int) -> str:
    """The interval of a paired-seed difference: Student-t over ``n`` paired seeds, or none from one."""
    return interval_name(n).replace("runs", "paired seeds").replace("run)", "pair)")


def _verdict(low: float, high: float, above: str, below: str, none: str = "no interval (1 pair)") -> str:
    """``above`` / ``below`` where the interval excludes 0 on that side, else ``not resolved``; ``none``
    without an interval."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return none
    if low > 0:
        return above
    if high < 0:
        return below
    return "not resolved"


def _same(values: np.ndarray) -> bool:
    """Whether every value is 0 (to rounding): a run whose score did not move at all."""
    scale = max(1.0, float(np.max(np.abs(values)))) if values.size else 1.0
    return bool(values.size) and bool(np.all(np.abs(values) <= 1e-9 * scale))


# --------------------------------------------------------------------------------------------------------
# Gains since the start


READ_AT = ("common", "own")
"""Where a gain is read: at the suite's common final point (every method at equal env steps), or at each
method's own final point (a method given a larger budget by its profile, read where it ended)."""


def start_and_final(df: tables.Table, split: str = META_TEST, *, at: str = "common") -> pd.DataFrame:
    """Per run with an evaluation at ``env_steps = 0``: ``method, suite, run_id, seed, env_steps`` (the
    final point: the suite's common one, or with ``at="own"`` the method's own), ``start`` (the score at
    0) and ``final`` (the score at that final point)."""
    if at not in READ_AT:
        raise ValueError(f"at={at!r}: expected one of {READ_AT}")
    table = tables.score_table(df)
    scores = tables.evaluation_scores(table, split)
    start = scores.loc[scores["env_steps"] == 0, [*tables.RUN_KEYS, "score"]].rename(
        columns={"score": "start"}
    )
    if at == "common":
        final = tables.final_scores(table, split)
    else:
        final = tables.at_method_end(scores, tables.method_end_points(table))
    final = final[[*tables.RUN_KEYS, "env_steps", "score"]]
    both = final.rename(columns={"score": "final"}).merge(start, on=tables.RUN_KEYS)
    return both.sort_values(tables.RUN_KEYS, kind="mergesort").reset_index(drop=True)


GAIN_COLUMNS = [
    "suite",
    "split",
    "score",
    "method",
    "env_steps",
    "n_pairs",
    "start_mean",
    "final_mean",
    "gain",
    "ci_low",
    "ci_high",
    "interval",
    "gain_verdict",
    "start_minus_random",
    "start_minus_random_ci_low",
    "start_minus_random_ci_high",
    "n_random_pairs",
    "untrained_vs_random",
]


def gains_since_start(df: tables.Table, *, at: str = "common") -> pd.DataFrame:
    """Per suite, split and method: final minus start, run by run, with its Student-t interval over seeds;
    the final point is the suite's common one, or with ``at="own"`` each method's own (:data:`READ_AT`).

    Columns :data:`GAIN_COLUMNS`. ``gain_verdict``: ``improved`` / ``worse`` (interval excludes 0),
    ``not resolved``, ``unchanged`` (every run's final score equals its start exactly) or ``no interval``.
    ``start_minus_random``: the untrained agent's score minus the random policy's at ``env_steps = 0`` on
    the same seed, with ``untrained_vs_random`` = ``beats random`` where its interval lies above 0.
    """
    rows = []
    for split in SPLITS:
        runs = start_and_final(df, split, at=at)
        if runs.empty:
            continue
        random_start = runs[runs["method"] == RANDOM].groupby(["suite", "seed"])["start"].mean()
        for (suite, method), group in runs.groupby(["suite", "method"], sort=True):
            gain = (group["final"] - group["start"]).to_numpy(dtype=np.float64)
            ci = stats.t_interval(gain)
            verdict = (
                "unchanged"
                if _same(gain)
                else _verdict(ci.low, ci.high, "improved", "worse", none="no interval (1 run)")
            )
            versus = np.nan, np.nan, np.nan, 0, ""
            if method != RANDOM and not random_start.empty:
                keys = pd.MultiIndex.from_arrays([group["suite"], group["seed"]])
                theirs = random_start.reindex(keys).to_numpy(dtype=np.float64)
                mask = np.isfinite(theirs)
                diff = group["start"].to_numpy(dtype=np.float64)[mask] - theirs[mask]
                if diff.size:
                    rci = stats.t_interval(diff)
                    what = _verdict(rci.low, rci.high, "beats random", "below random")
                    versus = rci.point, rci.low, rci.high, diff.size, what
            if method != RANDOM and not versus[3]:
                versus = (np.nan, np.nan, np.nan, 0, "no random run on these seeds")
            rows.append(
                (
                    suite,
                    split,
                    tables.score_name(suite),
                    method,
                    int(group["env_steps"].max()),
                    gain.size,
                    float(group["start"].mean()),
                    float(group["final"].mean()),
                    ci.point,
                    ci.low,
                    ci.high,
                    paired_interval_name(gain.size),
                    verdict,
                    *versus,
                )
            )
    return pd.DataFrame(rows, columns=GAIN_COLUMNS)


UNTRAINED_COLUMNS = [
    "suite",
    "split",
    "score",
    "method",
    "versus",
    "n_pairs",
    "mean_difference",
    "ci_low",
    "ci_high",
    "interval",
    "verdict",
]


def untrained_differences(df: tables.Table) -> pd.DataFrame:
    """Every pair of learning methods (random left out: :func:`gains_since_start` has it) at ``env_steps =
    0``, paired by seed: ``method``'s untrained score minus ``versus``'s (legend order). ``verdict``:
    ``differ`` (interval excludes 0), ``identical`` (every seed's difference is exactly 0), ``not
    resolved`` or ``no interval (1 pair)``. Columns :data:`UNTRAINED_COLUMNS`."""
    rows = []
    for split in SPLITS:
        runs = start_and_final(df, split)
        for suite, in_suite in runs.groupby("suite", sort=True):
            per_seed = in_suite.groupby(["method", "seed"])["start"].mean()
            methods = [m for m in method_order(in_suite["method"].unique()) if m != RANDOM]
            for i, method in enumerate(methods):
                for versus in methods[i + 1 :]:
                    both = pd.concat([per_seed[method], per_seed[versus]], axis=1, join="inner")
                    if both.empty:
                        continue
                    diff = (both.iloc[:, 0] - both.iloc[:, 1]).to_numpy(dtype=np.float64)
                    ci = stats.t_interval(diff)
                    verdict = "identical" if _same(diff) else _verdict(ci.low, ci.high, "differ", "differ")
                    rows.append(
                        (
                            suite,
                            split,
                            tables.score_name(suite),
                            method,
                            versus,
                            diff.size,
                            ci.point,
                            ci.low,
                            ci.high,
                            paired_interval_name(diff.size),
                            verdict,
                        )
                    )
    return pd.DataFrame(rows, columns=UNTRAINED_COLUMNS)


# --------------------------------------------------------------------------------------------------------
# Area under the curve


def common_grid(scores: pd.DataFrame) -> dict[str, list[int]]:
    """Per suite, the ``env_steps`` at which every run of the suite has an evaluation (sorted)."""
    out = {}
    for suite, in_suite in scores.groupby("suite", sort=True):
        sets = [set(group["env_steps"].astype(int)) for _, group in in_suite.groupby("run_id", sort=True)]
        out[str(suite)] = sorted(set.intersection(*sets)) if sets else []
    return out


def grid_note(grid: list[int]) -> str:
    """``"0-16k (2 points)"``: the span and size of a common grid."""
    if not grid:
        return "no common grid point"
    return (
        f"{format_steps(grid[0])}-{format_steps(grid[-1])} ({len(grid)} point{'s' if len(grid) != 1 else ''})"
    )


def normaliser(suite: str, refs: dict[str, references_module.Reference]) -> tuple[float, float, str] | None:
    """``(lower, upper, unit)`` of a suite with a usable reference, else ``None`` (raw scores)."""
    ref = refs.get(suite)
    if ref is None or not ref.usable or ref.upper is None:
        return None
    return ref.lower, ref.upper, f"normalised (0 = random, 1 = {ref.upper_kind})"


AUC_RUN_COLUMNS = [
    "suite",
    "method",
    "run_id",
    "seed",
    "grid",
    "n_points",
    "auc_raw",
    "auc",
    "unit",
]


def auc_per_run(df: tables.Table, refs: dict[str, references_module.Reference] | None = None) -> pd.DataFrame:
    """Per run: the trapezoid of its meta-test score over its suite's common grid divided by the grid's
    span (``auc_raw``, in the score's unit: the mean score over training) and ``auc`` normalised with the
    fixed references where usable (``unit`` says which). Suites whose common grid has fewer than two points
    are left out. Columns :data:`AUC_RUN_COLUMNS`."""
    refs = references_module.load() if refs is None else refs
    scores = tables.evaluation_scores(tables.score_table(df), META_TEST)
    grids = common_grid(scores)
    rows = []
    for (method, suite, run_id, seed), run in scores.groupby(tables.RUN_KEYS, sort=True):
        grid = grids[suite]
        if len(grid) < 2:
            continue
        curve = run.set_index("env_steps")["score"].reindex(grid).to_numpy(dtype=np.float64)
        steps = np.asarray(grid, dtype=np.float64)
        raw = float(np.sum((curve[1:] + curve[:-1]) / 2.0 * np.diff(steps)) / (steps[-1] - steps[0]))
        norm = normaliser(suite, refs)
        value, unit = (
            ((raw - norm[0]) / (norm[1] - norm[0]), norm[2]) if norm else (raw, tables.score_name(suite))
        )
        rows.append((suite, method, run_id, seed, grid_note(grid), len(grid), raw, value, unit))
    return pd.DataFrame(rows, columns=AUC_RUN_COLUMNS)


AUC_COLUMNS = [
    "suite",
    "unit",
    "grid",
    "method",
    "versus",
    "n",
    "mean",
    "ci_low",
    "ci_high",
    "interval",
    "verdict",
]


def auc_summary(per_run: pd.DataFrame, reference: str = REFERENCE) -> pd.DataFrame:
    """Per suite and method: the mean AUC with a Student-t interval over runs (``versus`` empty); and each
    method's AUC minus ``reference``'s, paired by seed, with a Student-t interval over paired seeds
    (``versus = reference``; ``verdict`` says whether the interval excludes 0). Random is compared with no
    one (its AUC is the control). Columns :data:`AUC_COLUMNS`."""
    rows = []
    for suite, in_suite in per_run.groupby("suite", sort=True):
        unit, grid = in_suite["unit"].iloc[0], in_suite["grid"].iloc[0]
        for method in method_order(in_suite["method"].unique()):
            mine = in_suite[in_suite["method"] == method]
            values = mine["auc"].to_numpy(dtype=np.float64)
            ci = stats.t_interval(values)
            rows.append(
                (
                    suite,
                    unit,
                    grid,
                    method,
                    "",
                    values.size,
                    ci.point,
                    ci.low,
                    ci.high,
                    interval_name(values.size),
                    "",
                )
            )
            if method in (reference, RANDOM) or reference not in set(in_suite["method"]):
                continue
            theirs = in_suite[in_suite["method"] == reference].groupby("seed")["auc"].mean()
            both = (
                mine.groupby("seed")["auc"].mean().to_frame("mine").join(theirs.rename("theirs"), how="inner")
            )
            if both.empty:
                continue
            diff = (both["mine"] - both["theirs"]).to_numpy(dtype=np.float64)
            d = stats.t_interval(diff)
            verdict = _verdict(d.low, d.high, "higher", "lower")
            rows.append(
                (
                    suite,
                    unit,
                    grid,
                    method,
                    reference,
                    diff.size,
                    d.point,
                    d.low,
                    d.high,
                    paired_interval_name(diff.size),
                    verdict,
                )
            )
    return pd.DataFrame(rows, columns=AUC_COLUMNS)


# --------------------------------------------------------------------------------------------------------
# Env steps to a threshold


STEPS_COLUMNS = [
    "suite",
    "score",
    "threshold",
    "threshold_rule",
    "grid",
    "method",
    "n_runs",
    "n_reached",
    "per_seed",
    "mean",
    "ci_low",
    "ci_high",
    "median",
    "summary",
    "interval",
]


def thresholds(
    final: pd.DataFrame,
    refs: dict[str, references_module.Reference],
    fraction: float = THRESHOLD_FRACTION,
) -> dict[str, tuple[float, str]]:
    """Per suite: ``(threshold, rule)``. ``fraction`` of the way from random to the upper reference where
    the suite has a usable reference; else from the random method's mean final score to the best method's
    mean final score in ``final``; suites with neither are left out."""
    out = {}
    for suite, in_suite in final.groupby("suite", sort=True):
        norm = normaliser(str(suite), refs)
        if norm is not None:
            lower, upper, _ = norm
            rule = f"{fraction:g} of the way from random ({lower:.4g}) to the upper reference ({upper:.4g})"
            out[str(suite)] = (lower + fraction * (upper - lower), rule)
            continue
        means = in_suite.groupby("method")["score"].mean()
        if RANDOM not in means or len(means) < 2:
            continue
        best = means.drop(RANDOM).max()
        if best <= means[RANDOM]:
            continue
        rule = (
            f"{fraction:g} of the way from random's mean final score ({means[RANDOM]:.4g}) to the best "
            f"method's ({best:.4g}) in this table (no usable upper reference)"
        )
        out[str(suite)] = (means[RANDOM] + fraction * (best - means[RANDOM]), rule)
    return out


def steps_to_threshold(
    df: tables.Table,
    refs: dict[str, references_module.Reference] | None = None,
    fraction: float = THRESHOLD_FRACTION,
) -> pd.DataFrame:
    """Per suite and learning method: the env steps at which each run's meta-test score first reaches the
    suite's threshold on the common grid; runs that never do are censored at the grid's last point.

    ``mean`` with a Student-t interval only when every run reached it; ``median`` (censored runs counted as
    beyond the budget) only when more than half did; ``summary`` is what the report prints. Columns
    :data:`STEPS_COLUMNS`.
    """
    refs = references_module.load() if refs is None else refs
    table = tables.score_table(df)
    scores = tables.evaluation_scores(table, META_TEST)
    grids = common_grid(scores)
    levels = thresholds(tables.final_scores(table, META_TEST), refs, fraction)
    rows = []
    for (suite, method), group in scores.groupby(["suite", "method"], sort=True):
        grid = grids[suite]
        if method == RANDOM or suite not in levels or not grid:
            continue
        level, rule = levels[suite]
        reached = []
        for seed, run in group.groupby("seed", sort=True):
            curve = run.groupby("env_steps")["score"].mean().reindex(grid).to_numpy(dtype=np.float64)
            hits = np.flatnonzero(curve >= level)
            reached.append((int(seed), float(grid[hits[0]]) if hits.size else np.inf))
        steps = np.array([s for _, s in reached])
        done = np.isfinite(steps)
        budget = f"> {format_steps(grid[-1])}"
        per_seed = ", ".join(
            f"s{seed}: {format_steps(s) if np.isfinite(s) else budget}" for seed, s in reached
        )
        mean = low = high = median = np.nan
        if done.all():
            ci = stats.t_interval(steps)
            mean, low, high = ci.point, max(ci.low, 0.0), ci.high  # no run reaches it before step 0
            summary = format_steps(mean) + (
                f" [{format_steps(low)}, {format_steps(high)}]" if np.isfinite(low) else " (no interval)"
            )
            interval = interval_name(steps.size)
        else:
            interval = f"none ({int((~done).sum())} of {steps.size} runs censored)"
            middle = np.sort(steps)[(steps.size - 1) // 2 : steps.size // 2 + 1]
            if done.sum() * 2 > steps.size and np.isfinite(middle).all():
                median = float(np.mean(middle))
                summary = f"median {format_steps(median)} ({int(done.sum())} of {steps.size} reached)"
            else:
                summary = f"{budget} ({int(done.sum())} of {steps.size} reached)"
        rows.append(
            (
                suite,
                tables.score_name(suite),
                level,
                rule,
                grid_note(grid),
                method,
                steps.size,
                int(done.sum()),
                per_seed,
                mean,
                low,
                high,
                median,
                summary,
                interval,
            )
        )
    return pd.DataFrame(rows, columns=STEPS_COLUMNS)


# --------------------------------------------------------------------------------------------------------
# Ranks


def rank_probabilities(
    values: dict[str, np.ndarray],
    *,
    seed: int,
    keys: tuple,
    reps: int = stats.DEFAULT_REPS,
    confidence: float = stats.CONFIDENCE,
) -> pd.DataFrame:
    """Bootstrap the ranking of the methods' means (1 = highest).

    ``values``: method -> its per-run values. Each method's runs are resampled with replacement (after the
    ``sqrt(n / (n - 1))`` spread of :func:`analysis.stats.aggregate_ci`) from its own generator,
    ``derive_seed(seed, *keys, method)``. Ties share their ranks equally. Returns one row per method:
    ``method, n_runs, mean, rank`` (of the observed means, ties at their mid-rank), ``mean_rank, rank_low,
    rank_high`` (bootstrap mean and percentile interval of the mid-rank) and ``p_rank_1 .. p_rank_K``
    (each row sums to 1, and so does each rank over the methods).
    """
    methods = list(values)
    k = len(methods)
    means = np.stack(
        [
            stats._inflated_resample(
                [np.asarray(values[m], dtype=np.float64)],
                reps,
                np.random.default_rng(stats.derive_seed(seed, *keys, m)),
            )[0].mean(axis=-1)
            for m in methods
        ],
        axis=-1,
    )  # (reps, k)
    observed = np.array([np.mean(values[m]) for m in methods])

    def ranks_of(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(above, tied)``: per method, how many score strictly higher and how many others tie."""
        above = np.sum(table[..., None, :] > table[..., :, None], axis=-1)
        tied = np.sum(table[..., None, :] == table[..., :, None], axis=-1) - 1
        return above, tied

    above, tied = ranks_of(means)
    mid = above + 1 + tied / 2.0
    probability = np.zeros((k, k))
    for r in range(k):  # rank r + 1 is shared by the tie group that spans it
        share = ((above <= r) & (r <= above + tied)) / (tied + 1.0)
        probability[:, r] = share.mean(axis=0)
    alpha = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(mid, [alpha, 100.0 - alpha], axis=0)
    obs_above, obs_tied = ranks_of(observed)
    frame = pd.DataFrame(
        {
            "method": methods,
            "n_runs": [np.asarray(values[m]).size for m in methods],
            "mean": observed,
            "rank": obs_above + 1 + obs_tied / 2.0,
            "mean_rank": mid.mean(axis=0),
            "rank_low": low,
            "rank_high": high,
        }
    )
    for r in range(k):
        frame[f"p_rank_{r + 1}"] = probability[:, r]
    return frame


RANK_QUANTITIES = ("final", "auc")


def ranks(
    df: tables.Table,
    per_run_auc: pd.DataFrame,
    *,
    seed: int = 0,
    reps: int = stats.DEFAULT_REPS,
) -> pd.DataFrame:
    """Per suite and quantity (``final``: the final meta-test score; ``auc``): the bootstrapped ranks of
    every method present, random included (:func:`rank_probabilities`). Columns ``suite, quantity,
    method, n_runs, mean, rank, mean_rank, rank_low, rank_high, reps, interval, p_rank_1 ..``."""
    final = tables.final_scores(tables.score_table(df), META_TEST)
    sources = {"final": (final, "score"), "auc": (per_run_auc, "auc")}
    frames = []
    for quantity in RANK_QUANTITIES:
        frame, column = sources[quantity]
        for suite, in_suite in frame.groupby("suite", sort=True):
            methods = method_order(in_suite["method"].unique())
            values = {
                m: in_suite.loc[in_suite["method"] == m, column].to_numpy(dtype=np.float64) for m in methods
            }
            result = rank_probabilities(values, seed=seed, keys=("ranks", suite, quantity), reps=reps)
            result.insert(0, "quantity", quantity)
            result.insert(0, "suite", suite)
            frames.append(result)
    if not frames:
        return pd.DataFrame(
            columns=[
                "suite",
                "quantity",
                "method",
                "n_runs",
                "mean",
                "rank",
                "mean_rank",
                "rank_low",
                "rank_high",
            ]
        )
    out = pd.concat(frames, ignore_index=True)
    probability = [c for c in out.columns if c.startswith("p_rank_")]
    out[probability] = out[probability].fillna(0.0)
    out.insert(9, "reps", reps)
    out.insert(
        10,
        "interval",
        "95% percentile of the rank over a bootstrap of seeds within each method (spread sqrt(n/(n-1)))",
    )
    return out


# --------------------------------------------------------------------------------------------------------
# Everything, once per table


@dataclass(frozen=True)
class Inference:
    """Every table of this module, named after its CSV file."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def compute(df: tables.Table, *, seed: int = 0, reps: int = stats.DEFAULT_REPS) -> Inference:
    """All the tables (computed once per score table, seed and reps; the figure and the report share them)."""
    table = tables.score_table(df)

    def build() -> Inference:
        per_run = auc_per_run(table)
        return Inference(
            {
                "gains_since_start": gains_since_start(table),
                "gains_at_own_end": gains_since_start(table, at="own"),
                "untrained_differences": untrained_differences(table),
                "auc": auc_summary(per_run),
                "auc_per_run": per_run,
                "steps_to_threshold": steps_to_threshold(table),
                "ranks": ranks(table, per_run, seed=seed, reps=reps),
            }
        )

    result: Inference = table.derive(("inference", seed, reps), build)
    return result


SORT_KEYS = {
    "gains_since_start": ["suite", "split", "method"],
    "gains_at_own_end": ["suite", "split", "method"],
    "untrained_differences": ["suite", "split", "method", "versus"],
    "auc": ["suite", "versus", "method"],
    "auc_per_run": ["suite", "method", "seed", "run_id"],
    "steps_to_threshold": ["suite", "method"],
    "ranks": ["suite", "quantity", "method"],
}
"""How each CSV is sorted."""


# --------------------------------------------------------------------------------------------------------
# The report's sections


def _gain_rows(gains: pd.DataFrame, methods: list[str], *, own: bool) -> list[list[str]]:
    """One row per suite and split, one cell per method; ``own``: each cell names its own final point."""
    rows = []
    for suite in suite_order(gains["suite"].unique()):
        for split in SPLITS:
            mine = gains[(gains["suite"] == suite) & (gains["split"] == split)].set_index("method")
            if mine.empty:
                continue
            first = f"{suite} {split.replace('_', '-')} ({mine['score'].iloc[0]})"
            if not own:
                first += f", 0 → {format_steps(float(mine['env_steps'].max()))}"
            cells = [first]
            for method in methods:
                if method not in mine.index:
                    cells.append("—")
                    continue
                row = mine.loc[method]
                note = "; unchanged" if row["gain_verdict"] == "unchanged" else ""
                where = f"0 → {format_steps(float(row['env_steps']))}: " if own else ""
                gain = markdown.interval(row["gain"], row["ci_low"], row["ci_high"], 1, sign=True)
                cells.append(f"{where}{gain} (n={row['n_pairs']}{note})")
            rows.append(cells)
    return rows


def _gains_lines(
    gains: pd.DataFrame, untrained: pd.DataFrame, labels: dict[str, str], own_end: pd.DataFrame | None = None
) -> list[str]:
    if gains.empty:
        return ["No run has an evaluation at env step 0: no gain since the start can be computed.", ""]
    methods = method_order(gains["method"].unique())
    header = ["suite split (score), env steps", *[labels[m] for m in methods]]
    lines = [
        "Per run, the score at the common final point minus the same run's untrained agent (env step 0; same "
        "seed, so the same tasks and reset states): mean [95 % Student-t interval over seeds] (n = runs). "
        "This, not the distance from random, is what a method learned.",
        "",
        *markdown.table(header, _gain_rows(gains, methods, own=False)),
        "",
    ]
    keys = ["suite", "split", "method"]
    if own_end is not None and not own_end.empty:
        moved = own_end.merge(gains[[*keys, "env_steps"]], on=keys, suffixes=("", "_common"))
        moved = moved[moved["env_steps"] != moved["env_steps_common"]]
        if not moved.empty:
            later = own_end.merge(moved[["suite", "split"]].drop_duplicates(), on=["suite", "split"])
            lines += [
                "Some methods ran past the common final point (a profile gave them a larger budget). The "
                "same gain read at **each method's own final point** (the last point all its runs reached; "
                "`gains_at_own_end.csv`), not at equal env steps: compare methods at the common point above.",
                "",
                *markdown.table(header, _gain_rows(later, methods, own=True)),
                "",
            ]
    above = gains[gains["untrained_vs_random"] == "beats random"]
    if not above.empty:
        parts = []
        for (suite, split), group in above.groupby(["suite", "split"], sort=False):
            who = ", ".join(
                f"{labels[r.method]} "
                + markdown.interval(
                    r.start_minus_random,
                    r.start_minus_random_ci_low,
                    r.start_minus_random_ci_high,
                    1,
                    sign=True,
                )
                + f" (n={r.n_random_pairs})"
                for r in group.itertuples(index=False)
            )
            parts.append(f"- {suite} {split.replace('_', '-')}: {who}")
        lines += [
            "**Untrained agents already score above the random policy** (env step 0 minus random, paired by "
            "seed, 95 % interval above 0). On these suites a score above random is not evidence of learning "
            "(e.g. a survival bonus or a control cost rewards standing still); read the gains above:",
            "",
            *parts,
            "",
        ]
    else:
        lines += ["No untrained agent scores above the random policy with an interval above 0.", ""]
    differ = untrained[untrained["verdict"] == "differ"]
    if not differ.empty:
        parts = [
            f"- {r.suite} {r.split.replace('_', '-')}: {labels[r.method]} − {labels[r.versus]} "
            f"{markdown.interval(r.mean_difference, r.ci_low, r.ci_high, 1, sign=True)} (n={r.n_pairs})"
            for r in differ.itertuples(index=False)
        ]
        lines += [
            "**Untrained agents that already differ from each other** (env step 0, paired by seed, 95 % "
            "interval excludes 0; a difference in final scores includes this head start):",
            "",
            *parts,
            "",
        ]
    same = untrained[untrained["verdict"] == "identical"]
    if not same.empty:
        groups = []
        for (suite, split), pairs in same.groupby(["suite", "split"], sort=False):
            for members in identical_groups(list(zip(pairs["method"], pairs["versus"], strict=True))):
                groups.append(f"{suite} {split.replace('_', '-')}: " + " = ".join(labels[m] for m in members))
        lines += [f"Identical untrained scores in every seed: {'; '.join(groups)}.", ""]
    unchanged = gains[(gains["gain_verdict"] == "unchanged") & (gains["method"] != RANDOM)]
    if not unchanged.empty:
        parts = [
            f"- {suite} {split.replace('_', '-')}: "
            + ", ".join(
                f"{labels[r.method]} ({markdown.fmt(r.start_mean, 1)})" for r in group.itertuples(index=False)
            )
            for (suite, split), group in unchanged.groupby(["suite", "split"], sort=False)
        ]
        lines += [
            "**Unchanged since the start in every run** (each seed's final score equals its untrained score "
            "exactly, mean in brackets: no learning is visible; where the score is not a floor such as 0 % "
            "success, check that the method trained):",
            "",
            *parts,
            "",
        ]
    return lines


def identical_groups(pairs: list[tuple[str, str]]) -> list[list[str]]:
    """The connected groups of methods that ``pairs`` join, each in legend order, groups in legend order."""
    parent: dict[str, str] = {}

    def root(m: str) -> str:
        while parent.setdefault(m, m) != m:
            m = parent[m]
        return m

    for a, b in pairs:
        parent[root(a)] = root(b)
    groups: dict[str, list[str]] = {}
    for m in method_order(parent):
        groups.setdefault(root(m), []).append(m)
    return list(groups.values())


def _auc_lines(auc: pd.DataFrame, labels: dict[str, str]) -> list[str]:
    if auc.empty:
        return ["No suite has a common evaluation grid of two or more points: no area under the curve.", ""]
    own = auc[auc["versus"] == ""]
    methods = method_order(own["method"].unique())
    rows = []
    for suite in suite_order(own["suite"].unique()):
        mine = own[own["suite"] == suite].set_index("method")
        digits = 3 if mine["unit"].iloc[0].startswith("normalised") else 1
        cells = [f"{suite}: {mine['unit'].iloc[0]}, grid {mine['grid'].iloc[0]}"]
        for method in methods:
            if method not in mine.index:
                cells.append("—")
                continue
            row = mine.loc[method]
            value = markdown.interval(row["mean"], row["ci_low"], row["ci_high"], digits, sign=True)
            cells.append(f"{value} (n={row['n']})")
        rows.append(cells)
    lines = [
        "### Area under the meta-test curve",
        "",
        "Per run, the trapezoid of the meta-test score over the suite's common evaluation grid (the env "
        "steps at which every run of the suite was evaluated; nothing interpolated) divided by the grid's "
        "span: the mean score over training, normalised with the fixed references (0 = random, 1 = upper "
        "reference) where the suite has them. Mean [95 % Student-t interval over runs] (n = runs):",
        "",
        *markdown.table(["suite: unit, common grid", *[labels[m] for m in methods]], rows),
        "",
    ]
    versus = auc[auc["versus"] != ""]
    if not versus.empty:
        lines += [
            f"AUC minus {labels.get(REFERENCE, REFERENCE)}'s, paired by seed "
            "[95 % Student-t over paired seeds]:",
            "",
        ]
        for suite in suite_order(versus["suite"].unique()):
            for r in versus[versus["suite"] == suite].itertuples(index=False):
                digits = 3 if r.unit.startswith("normalised") else 1
                if r.verdict in ("higher", "lower"):
                    verdict = f"supported: {labels[r.method]} {r.verdict} (interval excludes 0)"
                elif r.verdict == "not resolved":
                    verdict = "not resolved: the interval includes 0"
                else:
                    verdict = "no interval from one pair: nothing is claimed"
                value = markdown.interval(r.mean, r.ci_low, r.ci_high, digits, sign=True)
                lines.append(
                    f"- {suite}, {labels[r.method]} − {labels[r.versus]}: "
                    f"{value}, n = {r.n} paired seeds; {verdict}."
                )
        lines.append("")
    return lines


def _steps_lines(steps: pd.DataFrame, labels: dict[str, str]) -> list[str]:
    lines = ["### Env steps to reach a threshold", ""]
    if steps.empty:
        return [*lines, "No suite has a threshold (no usable reference and no random runs).", ""]
    methods = method_order(steps["method"].unique())
    rows = []
    for suite in suite_order(steps["suite"].unique()):
        mine = steps[steps["suite"] == suite].set_index("method")
        first = mine.iloc[0]
        cells = [f"{suite}: {first['score']} ≥ {first['threshold']:.4g}, grid {first['grid']}"]
        for method in methods:
            if method not in mine.index:
                cells.append("—")
                continue
            row = mine.loc[method]
            cells.append(row["summary"] + (f" ({row['per_seed']})" if row["n_reached"] else ""))
        rows.append(cells)
    rules = sorted(set(steps["threshold_rule"].str.replace(r" \(.*?\)", "", regex=True)))
    return [
        *lines,
        "The first point of the common grid at which a run's meta-test score reaches the threshold "
        f'({"; ".join(rules)}). A run that never reaches it is censored ("> budget"): a mean with its '
        "95 % Student-t interval over runs only when every run reached it, else how many did and the median "
        "(a number only when more than half did); a Student-t interval is cut at 0 below. Per seed in "
        "brackets where any run reached it:",
        "",
        *markdown.table(["suite: threshold, common grid", *[labels[m] for m in methods]], rows),
        "",
    ]


def _rank_lines(ranked: pd.DataFrame, labels: dict[str, str]) -> list[str]:
    lines = ["### How sure is the ordering", ""]
    if ranked.empty:
        return [*lines, "No suite to rank.", ""]
    methods = method_order(ranked["method"].unique())
    rows = []
    for suite in suite_order(ranked["suite"].unique()):
        for quantity in RANK_QUANTITIES:
            mine = ranked[(ranked["suite"] == suite) & (ranked["quantity"] == quantity)].set_index("method")
            if mine.empty:
                continue
            cells = [f"{suite}, {'final score' if quantity == 'final' else 'AUC'}"]
            for method in methods:
                if method not in mine.index:
                    cells.append("—")
                    continue
                r = mine.loc[method]
                cells.append(
                    f"{r['mean_rank']:.2f} [{r['rank_low']:g}, {r['rank_high']:g}]; "
                    f"P(1st) {r['p_rank_1']:.2f}"
                )
            rows.append(cells)
    reps = int(ranked["reps"].iloc[0])
    return [
        *lines,
        f"Seeds resampled within each method ({reps} resamples, each method's runs spread by √(n/(n−1))), "
        "method means ranked (1 = highest, ties share ranks): mean rank [95 % percentile of the rank]; "
        "P(1st) = the share of resamples in which the method ranks first (`ranks.csv` has every rank's "
        "probability). Random is ranked too. A bootstrap of a few seeds understates the spread (a "
        "percentile bootstrap of a mean covers ~72 % at n = 3, `analysis/README.md`) and its resamples never "
        "leave the range of the runs, so these ranks summarise the ordering and are more confident than the "
        "Student-t intervals: whether one method beats another is decided by the paired intervals above, "
        "not by non-overlapping rank intervals.",
        "",
        *markdown.table(["suite, quantity", *[labels[m] for m in methods]], rows),
        "",
    ]


def report_lines(df: tables.Table, *, seed: int = 0, reps: int = stats.DEFAULT_REPS) -> list[str]:
    """The report's sections on gains since the start and on sample efficiency over the curve."""
    result = compute(df, seed=seed, reps=reps).tables
    everyone = (
        set(result["gains_since_start"]["method"])
        | set(result["auc"]["method"])
        | set(result["ranks"]["method"])
    )
    labels = {m: s.label for m, s in method_styles(everyone | {REFERENCE}).items()}
    return [
        "## Gains since the start",
        "",
        *_gains_lines(
            result["gains_since_start"], result["untrained_differences"], labels, result["gains_at_own_end"]
        ),
        "## Sample efficiency over the whole curve",
        "",
        'These replace readings of pointwise means ("method X leads from step A to step B"): each is one '
        "number per run over the whole curve, with its interval.",
        "",
        *_auc_lines(result["auc"], labels),
        *_steps_lines(result["steps_to_threshold"], labels),
        *_rank_lines(result["ranks"], labels),
    ]
