"""Robust statistics for meta-RL results: the metric set of rliable (Agarwal et al. 2021), in NumPy only.

Why not call rliable: rliable 1.2 draws its bootstrap from NumPy's *global* generator (its ``random_state``
argument is ignored), and it cannot be imported next to pandas 3 (it pins ``arch<8``; arch 7 breaks on
pandas 3). These ~200 lines reproduce its semantics with an explicit :class:`numpy.random.Generator`, so
the same input and seed always give the same numbers. ``analysis/README.md`` records the cross-check
against rliable itself (``tests/analysis/test_rliable_crosscheck.py``).

Data layout: ``scores`` is a sequence with one 1-D array per *task* (for the aggregates a task is a suite),
holding one score per *run* (seed). A 2-D array of shape ``(num_runs, num_tasks)`` -- rliable's layout --
is accepted as well. Tasks may have different numbers of runs (a ragged layout rliable cannot take).

Every metric also accepts arrays with leading batch axes, shape ``(..., num_runs_of_task)``, and returns
shape ``(...)``: the bootstrap evaluates all its resamples in one vectorised call.

Definitions (identical to rliable's when every task has the same number of runs):

* ``iqm``: interquartile mean, the 25 % trimmed mean of all (run, task) scores pooled (``trim_mean``
  convention: ``int(0.25 * n)`` scores cut from each end).
* ``aggregate_mean`` / ``aggregate_median``: mean / median over tasks of the per-task mean over runs.
* ``optimality_gap``: ``gamma`` minus the mean of ``min(score, gamma)``; per-task means, then their mean.
* ``probability_of_improvement``: ``P(X > Y)`` per task by the Mann-Whitney U statistic (ties count 1/2),
  averaged over tasks.
* ``score_distribution``: performance profile, the fraction of runs with score ``> tau``; per-task
  fractions, then their mean.
* Bootstrap: stratified over runs (runs are resampled with replacement independently within each task;
  tasks are fixed), percentile confidence intervals (``numpy.percentile``, linear interpolation).

Intervals that keep their coverage at the 3 to 10 runs of a meta-RL study (the percentile bootstrap does
not: over n = 3 values it returns about [min, max] and covers ~75 % of the time). What the figures use:

* :func:`t_interval`: Student-t interval of a mean over runs (per-suite curves, final numbers, paired
  differences); none (NaN) with one run. Exact under normality; coverage simulated by
  :func:`t_interval_coverage`.
* :func:`aggregate_ci`: rliable's stratified bootstrap over runs x suites for the aggregates, read as a
  standard error: every suite's runs are first spread by ``sqrt(n / (n - 1))`` around their mean (the
  plug-in variance is ``(n - 1) / n`` of the unbiased one), and the interval is ``point +- t_df * se`` with
  the Welch-Satterthwaite ``df`` of the suites' variances. For the mean over suites this is Welch's
  interval; :func:`aggregate_coverage` simulates it.
* :func:`clopper_pearson`: exact binomial interval of a success rate (or of a count of paired wins).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

DEFAULT_REPS = 5000
"""Bootstrap resamples used by the figures unless told otherwise (rliable's default is 50 000)."""

CONFIDENCE = 0.95

SeedLike = int | np.random.Generator | np.random.SeedSequence
Scores = Sequence[np.ndarray] | np.ndarray
Statistic = Callable[[list[np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class Interval:
    """A point estimate and its confidence interval."""

    point: float
    low: float
    high: float


# --------------------------------------------------------------------------------------------------------
# Inputs and seeds


def as_tasks(scores: Scores) -> list[np.ndarray]:
    """Return ``scores`` as a list with one float 1-D array of run scores per task.

    Raises:
        ValueError: no task, a task without runs, or a non-finite score.
    """
    if isinstance(scores, np.ndarray):
        if scores.ndim != 2:
            raise ValueError(f"scores array must have shape (num_runs, num_tasks), got {scores.shape}")
        tasks = [np.asarray(scores[:, t], dtype=np.float64) for t in range(scores.shape[1])]
    else:
        tasks = [np.asarray(t, dtype=np.float64).reshape(-1) for t in scores]
    if not tasks:
        raise ValueError("scores must hold at least one task")
    for i, task in enumerate(tasks):
        if task.size == 0:
            raise ValueError(f"task {i} has no runs")
        if not np.isfinite(task).all():
            raise ValueError(f"task {i} has non-finite scores")
    return tasks


def derive_seed(seed: int, *keys: object) -> np.random.SeedSequence:
    """A seed for one estimate, from the user's ``seed`` and the estimate's identity (method, suite, ...).

    Keying every estimate separately makes each confidence interval depend only on its own data and the
    seed: adding a new method to the table leaves every other method's intervals byte-identical.
    ``zlib.crc32`` (not ``hash``) keeps the derivation identical across processes.
    """
    words = [int(seed)] + [zlib.crc32(repr(key).encode("utf-8")) for key in keys]
    return np.random.SeedSequence(words)


def _generator(seed: SeedLike) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------------------------------------
# Metrics (each: list of per-task arrays of shape (..., n_t) -> array of shape (...))


def iqm(scores: Scores) -> np.ndarray:
    """Interquartile mean of all (run, task) scores pooled: the mean of the middle 50 %."""
    pooled = np.sort(np.concatenate(_tasks_or_batches(scores), axis=-1), axis=-1)
    n = pooled.shape[-1]
    cut = int(0.25 * n)
    return np.mean(pooled[..., cut : n - cut], axis=-1)


def aggregate_mean(scores: Scores) -> np.ndarray:
    """Mean over tasks of the per-task mean over runs."""
    return np.mean(_task_means(scores), axis=-1)


def aggregate_median(scores: Scores) -> np.ndarray:
    """Median over tasks of the per-task mean over runs."""
    return np.median(_task_means(scores), axis=-1)


def optimality_gap(scores: Scores, gamma: float = 1.0) -> np.ndarray:
    """How far scores fall short of ``gamma``: ``gamma - mean(min(score, gamma))``; lower is better."""
    tasks = _tasks_or_batches(scores)
    shortfall = np.stack([np.mean(gamma - np.minimum(t, gamma), axis=-1) for t in tasks], axis=-1)
    return np.mean(shortfall, axis=-1)


def probability_of_improvement(scores_x: Scores, scores_y: Scores) -> np.ndarray:
    """``P(X > Y)``: per task, the chance that a random run of X beats a random run of Y (ties count
    one half, the Mann-Whitney U statistic over ``n_x * n_y``), averaged over tasks."""
    tasks_x, tasks_y = _tasks_or_batches(scores_x), _tasks_or_batches(scores_y)
    if len(tasks_x) != len(tasks_y):
        raise ValueError(f"X has {len(tasks_x)} tasks but Y has {len(tasks_y)}")
    per_task = []
    for x, y in zip(tasks_x, tasks_y, strict=True):
        diff = x[..., :, None] - y[..., None, :]
        per_task.append(np.mean((diff > 0) + 0.5 * (diff == 0), axis=(-2, -1)))
    return np.mean(np.stack(per_task, axis=-1), axis=-1)


def score_distribution(scores: Scores, taus: np.ndarray) -> np.ndarray:
    """Performance profile: for each threshold ``tau``, the fraction of runs scoring above it (per task,
    then averaged over tasks). Returns shape ``(..., len(taus))``."""
    taus = np.asarray(taus, dtype=np.float64)
    tasks = _tasks_or_batches(scores)
    fractions = [np.mean(t[..., None, :] > taus[:, None], axis=-1) for t in tasks]
    return np.mean(np.stack(fractions, axis=0), axis=0)


def _tasks_or_batches(scores: Scores) -> list[np.ndarray]:
    # Inside the bootstrap the per-task arrays carry a leading resample axis; at the top level they are
    # the user's input and get validated.
    if isinstance(scores, list) and scores and all(isinstance(t, np.ndarray) and t.ndim >= 1 for t in scores):
        return scores
    return as_tasks(scores)


def _task_means(scores: Scores) -> np.ndarray:
    return np.stack([np.mean(t, axis=-1) for t in _tasks_or_batches(scores)], axis=-1)


AGGREGATES: dict[str, Statistic] = {
    "median": aggregate_median,
    "iqm": iqm,
    "mean": aggregate_mean,
    "optimality_gap": optimality_gap,
}
"""The four aggregate metrics of rliable, in the order its figures show them."""


# --------------------------------------------------------------------------------------------------------
# Bootstrap


def _resample(tasks: list[np.ndarray], reps: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Stratified resamples: shape ``(reps, n_t)`` per task, runs drawn with replacement within the task."""
    return [t[rng.integers(0, t.size, size=(reps, t.size))] for t in tasks]


def _percentile_interval(point: np.ndarray, boot: np.ndarray, confidence: float) -> tuple[np.ndarray, ...]:
    alpha = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(boot, [alpha, 100.0 - alpha], axis=0)
    return np.asarray(point, dtype=np.float64), low, high


def bootstrap_ci(
    scores: Scores,
    statistic: Statistic,
    *,
    seed: SeedLike,
    reps: int = DEFAULT_REPS,
    confidence: float = CONFIDENCE,
) -> Interval:
    """Stratified-bootstrap percentile confidence interval of a scalar ``statistic`` (rliable semantics).

    Args:
        scores: one array of run scores per task (or a ``(num_runs, num_tasks)`` array).
        statistic: a metric of this module (or any function with the same batched signature).
        seed: an int, :class:`numpy.random.SeedSequence` or :class:`numpy.random.Generator`.
        reps: number of bootstrap resamples.
        confidence: coverage of the interval.
    """
    tasks = as_tasks(scores)
    boot = statistic(_resample(tasks, reps, _generator(seed)))
    point, low, high = _percentile_interval(statistic(tasks), boot, confidence)
    return Interval(float(point), float(low), float(high))


def bootstrap_ci_pair(
    scores_x: Scores,
    scores_y: Scores,
    statistic: Callable[[list[np.ndarray], list[np.ndarray]], np.ndarray] = probability_of_improvement,
    *,
    seed: SeedLike,
    reps: int = DEFAULT_REPS,
    confidence: float = CONFIDENCE,
) -> Interval:
    """Confidence interval of a two-sample statistic (default: probability of improvement); the runs of X
    and of Y are resampled independently, each stratified by task (rliable's independent bootstrap)."""
    tasks_x, tasks_y = as_tasks(scores_x), as_tasks(scores_y)
    rng = _generator(seed)
    boot = statistic(_resample(tasks_x, reps, rng), _resample(tasks_y, reps, rng))
    point, low, high = _percentile_interval(statistic(tasks_x, tasks_y), boot, confidence)
    return Interval(float(point), float(low), float(high))


def mean_ci(
    values: np.ndarray, *, seed: SeedLike, reps: int = DEFAULT_REPS, confidence: float = CONFIDENCE
) -> Interval:
    """Percentile-bootstrap confidence interval of the mean of ``values`` (e.g. one score per seed).

    With a single value the interval collapses onto the point (no spread can be estimated from one run).
    """
    return bootstrap_ci(
        [np.asarray(values, dtype=np.float64)], aggregate_mean, seed=seed, reps=reps, confidence=confidence
    )


def performance_profile(
    scores: Scores,
    taus: np.ndarray,
    *,
    seed: SeedLike,
    reps: int = DEFAULT_REPS,
    confidence: float = CONFIDENCE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Score distribution at each ``tau`` with pointwise stratified-bootstrap bands.

    Returns:
        ``(profile, low, high)``, each of shape ``(len(taus),)``.
    """
    tasks = as_tasks(scores)
    taus = np.asarray(taus, dtype=np.float64)
    boot = score_distribution(_resample(tasks, reps, _generator(seed)), taus)
    point, low, high = _percentile_interval(score_distribution(tasks, taus), boot, confidence)
    return point, low, high


# --------------------------------------------------------------------------------------------------------
# Intervals that hold at small n


def t_interval(values: np.ndarray, confidence: float = CONFIDENCE) -> Interval:
    """Student-t interval of the mean of ``values`` (one value per run), ``mean +- t_{n-1} s / sqrt(n)``.

    With a single value there is no spread to estimate: the bounds are NaN (print no interval).
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("t_interval needs at least one value")
    low, high = t_bounds(values, confidence)
    return Interval(float(values.mean()), float(low), float(high))


def t_bounds(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`t_interval` bounds over the last axis (NaN where it has fewer than 2 values)."""
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[-1]
    mean = values.mean(axis=-1)
    if n < 2:
        nan = np.full(mean.shape, np.nan)
        return nan, nan
    half = scipy_stats.t.ppf(0.5 + confidence / 2.0, n - 1) * values.std(axis=-1, ddof=1) / np.sqrt(n)
    return mean - half, mean + half


def clopper_pearson(
    successes: float | np.ndarray, trials: int | np.ndarray, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Clopper-Pearson) interval of a binomial proportion, as fractions in [0, 1].

    ``successes`` may be fractional (paired wins with ties counted one half); the beta quantiles are then
    those of the nearest counts' interpolation, still conservative in practice.
    """
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    if np.any(n < 1) or np.any(k < 0) or np.any(k > n):
        raise ValueError("clopper_pearson needs 0 <= successes <= trials and trials >= 1")
    alpha = 1.0 - confidence
    with np.errstate(invalid="ignore"):
        low = np.where(k > 0, scipy_stats.beta.ppf(alpha / 2.0, k, n - k + 1.0), 0.0)
        high = np.where(k < n, scipy_stats.beta.ppf(1.0 - alpha / 2.0, k + 1.0, n - k), 1.0)
    return low, high


def _inflated_resample(tasks: list[np.ndarray], reps: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Stratified resamples of shape ``(..., reps, n_t)`` from each task's runs spread by sqrt(n/(n-1))."""
    out = []
    for t in tasks:
        n = t.shape[-1]
        mean = t.mean(axis=-1, keepdims=True)
        spread = mean + np.sqrt(n / (n - 1.0)) * (t - mean) if n > 1 else t
        index = rng.integers(0, n, size=(*t.shape[:-1], reps, n))
        out.append(np.take_along_axis(spread[..., None, :], index, axis=-1))
    return out


def _welch_df(tasks: list[np.ndarray]) -> np.ndarray:
    """Welch-Satterthwaite degrees of freedom of the mean over tasks of per-task means."""
    parts = [t.var(axis=-1, ddof=1) / t.shape[-1] for t in tasks]
    dfs = [t.shape[-1] - 1.0 for t in tasks]
    total = sum(parts)
    denominator = sum(p**2 / d for p, d in zip(parts, dfs, strict=True))
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(denominator > 0, total**2 / np.where(denominator > 0, denominator, 1.0), min(dfs))
    return np.maximum(df, 1.0)


def aggregate_bounds(
    tasks: list[np.ndarray],
    statistic: Statistic,
    *,
    rng: np.random.Generator,
    reps: int = DEFAULT_REPS,
    confidence: float = CONFIDENCE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batched core of :func:`aggregate_ci`: ``(point, low, high)`` over arrays of shape ``(..., n_t)``.

    Bounds are NaN where any task has a single run (its spread cannot be estimated).
    """
    point = np.asarray(statistic(tasks), dtype=np.float64)
    if min(t.shape[-1] for t in tasks) < 2:
        nan = np.full(point.shape, np.nan)
        return point, nan, nan
    boot = statistic(_inflated_resample(tasks, reps, rng))
    se = np.std(boot, axis=-1, ddof=1)
    half = scipy_stats.t.ppf(0.5 + confidence / 2.0, _welch_df(tasks)) * se
    return point, point - half, point + half


def aggregate_ci(
    scores: Scores,
    statistic: Statistic,
    *,
    seed: SeedLike,
    reps: int = DEFAULT_REPS,
    confidence: float = CONFIDENCE,
) -> Interval:
    """Interval of an aggregate (IQM, mean, median, optimality gap) over runs x suites that holds at small n.

    rliable's stratified bootstrap (runs resampled within each suite) gives the standard error, after the
    runs of each suite are spread by ``sqrt(n / (n - 1))`` around their mean; the interval is
    ``point +- t_df * se`` with Welch-Satterthwaite ``df``. NaN bounds when a suite has one run.
    """
    point, low, high = aggregate_bounds(
        as_tasks(scores), statistic, rng=_generator(seed), reps=reps, confidence=confidence
    )
    return Interval(float(point), float(low), float(high))


# --------------------------------------------------------------------------------------------------------
# Coverage by simulation


def t_interval_coverage(
    n: int,
    *,
    replications: int = 20_000,
    seed: SeedLike = 0,
    confidence: float = CONFIDENCE,
    distribution: str = "normal",
) -> float:
    """Fraction of ``replications`` samples of ``n`` runs whose :func:`t_interval` covers the true mean.

    ``distribution``: ``normal`` (N(1, 2^2)), ``uniform`` (U[0, 1]) or ``lognormal`` (skewed, sigma 0.5).
    """
    rng = _generator(seed)
    if distribution == "normal":
        draws, truth = rng.normal(1.0, 2.0, size=(replications, n)), 1.0
    elif distribution == "uniform":
        draws, truth = rng.uniform(0.0, 1.0, size=(replications, n)), 0.5
    elif distribution == "lognormal":
        draws, truth = rng.lognormal(0.0, 0.5, size=(replications, n)), float(np.exp(0.125))
    else:
        raise ValueError(f"unknown distribution {distribution!r}")
    low, high = t_bounds(draws, confidence)
    return float(np.mean((low <= truth) & (truth <= high)))


def aggregate_coverage(
    n: int,
    statistic: str = "mean",
    *,
    replications: int = 3_000,
    reps: int = 200,
    seed: SeedLike = 0,
    confidence: float = CONFIDENCE,
) -> float:
    """Fraction of simulated studies (3 suites x ``n`` runs) whose :func:`aggregate_ci` covers the truth.

    ``mean``: suites N(0, 1), N(1, 2^2), N(3, 0.5^2), true aggregate mean 4/3. ``iqm``: three N(0, 1)
    suites, true IQM 0 (a symmetric case, where the sample IQM is unbiased).
    """
    rng = _generator(seed)
    if statistic == "mean":
        means, sds, truth, metric = (
            np.array([0.0, 1.0, 3.0]),
            np.array([1.0, 2.0, 0.5]),
            4.0 / 3.0,
            aggregate_mean,
        )
    elif statistic == "iqm":
        means, sds, truth, metric = np.zeros(3), np.ones(3), 0.0, iqm
    else:
        raise ValueError(f"unknown statistic {statistic!r}")
    tasks = [rng.normal(m, s, size=(replications, n)) for m, s in zip(means, sds, strict=True)]
    _, low, high = aggregate_bounds(tasks, metric, rng=rng, reps=reps, confidence=confidence)
    return float(np.mean((low <= truth) & (truth <= high)))


def percentile_bootstrap_coverage(
    n: int, *, replications: int = 4_000, reps: int = 200, seed: SeedLike = 0, confidence: float = CONFIDENCE
) -> float:
    """Coverage of the plain percentile bootstrap of a mean over ``n`` normal runs (what this replaces)."""
    rng = _generator(seed)
    draws = rng.normal(1.0, 2.0, size=(replications, n))
    boot = np.take_along_axis(draws[:, None, :], rng.integers(0, n, size=(replications, reps, n)), axis=-1)
    alpha = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(boot.mean(axis=-1), [alpha, 100.0 - alpha], axis=-1)
    return float(np.mean((low <= 1.0) & (high >= 1.0)))


# ---- tests over paired seeds and their multiplicity ----------------------------------------------------


def paired_p_value(values: np.ndarray) -> float:
    """Two-sided one-sample t-test of mean 0 (NaN below 2 values; 0 when every difference is the same
    nonzero number, 1 when all are 0)."""
    if values.size < 2:
        return float("nan")
    if np.ptp(values) == 0:
        return 0.0 if values[0] != 0 else 1.0
    return float(scipy_stats.ttest_1samp(values, 0.0).pvalue)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN and does not count in the family)."""
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full_like(p, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = finite.size
    running = 0.0
    for rank, index in enumerate(finite[np.argsort(p[finite], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted
