"""analysis.stats against rliable 1.2 itself, on a fixture of 4 methods x 10 runs x 5 tasks.

rliable is not a dependency of the project (it pins ``arch<8``, which breaks on pandas 3), so this test is
skipped unless rliable is importable: run it in the ``analysis-crosscheck`` tox env (pandas<3 + rliable),
or in any venv with ``pip install rliable "pandas<3"``. Three checks:

1. point estimates are equal (IQM, mean, median, optimality gap, probability of improvement, profiles);
2. replaying rliable's own resampling draws (it draws from NumPy's global generator) through our metrics
   gives rliable's confidence intervals exactly: same stratification, same statistic, same percentiles;
3. our own seeded resampler gives intervals that agree with rliable's within Monte Carlo error.
"""

# rliable draws from NumPy's legacy global generator; replaying its draws needs that generator here.
# ruff: noqa: NPY002

from __future__ import annotations

import numpy as np
import pytest

from analysis import stats

rly = pytest.importorskip("rliable.library")
rly_metrics = pytest.importorskip("rliable.metrics")

METHODS = ("trmrl", "rl2", "maml", "pearl")
PAIRS = {
    "iqm": (rly_metrics.aggregate_iqm, stats.iqm),
    "mean": (rly_metrics.aggregate_mean, stats.aggregate_mean),
    "median": (rly_metrics.aggregate_median, stats.aggregate_median),
    "optimality_gap": (rly_metrics.aggregate_optimality_gap, stats.optimality_gap),
}
TAUS = np.linspace(-0.2, 1.3, 31)


@pytest.fixture(scope="module")
def scores() -> dict[str, np.ndarray]:
    """Normalised-looking scores, shape (10 runs, 5 tasks), with a per-task offset and clipping ties."""
    rng = np.random.default_rng(2022)
    centre = {"trmrl": 0.8, "rl2": 0.6, "maml": 0.45, "pearl": 0.5}
    return {
        m: np.clip(rng.normal(centre[m], 0.25, size=(10, 5)) + rng.normal(0, 0.1, size=(1, 5)), -0.2, 1.3)
        for m in METHODS
    }


def test_point_estimates_equal_rliable(scores):
    for name, (theirs, ours) in PAIRS.items():
        for method in METHODS:
            assert float(ours(scores[method])) == pytest.approx(float(theirs(scores[method])), abs=1e-12), (
                name
            )
    for other in METHODS[1:]:
        theirs = rly_metrics.probability_of_improvement(scores["trmrl"], scores[other])
        assert float(stats.probability_of_improvement(scores["trmrl"], scores[other])) == pytest.approx(
            theirs
        )
    profiles, _ = rly.create_performance_profile(scores, TAUS, reps=2)
    for method in METHODS:
        np.testing.assert_allclose(
            stats.score_distribution(scores[method], TAUS), profiles[method], atol=1e-12
        )


def _replayed_resamples(x: np.ndarray, reps: int) -> list[np.ndarray]:
    """rliable's StratifiedBootstrap draws, replayed: ``np.random.choice(runs, (runs, tasks))`` per rep."""
    idx = np.stack([np.random.choice(x.shape[0], x.shape, replace=True) for _ in range(reps)])
    return [x[idx[:, :, t], t] for t in range(x.shape[1])]


def test_replaying_rliable_draws_gives_its_intervals_exactly(scores):
    reps = 500
    for theirs, ours in PAIRS.values():
        np.random.seed(11)
        _, intervals = rly.get_interval_estimates(
            {"trmrl": scores["trmrl"]}, lambda s, f=theirs: np.array([f(s)]), reps=reps
        )
        np.random.seed(11)
        boot = ours(_replayed_resamples(scores["trmrl"], reps))
        np.testing.assert_allclose(np.percentile(boot, [2.5, 97.5]), intervals["trmrl"][:, 0], atol=1e-12)
    # Probability of improvement: X and Y resampled independently, X first, within each task.
    x, y = scores["trmrl"], scores["rl2"]
    np.random.seed(12)
    _, intervals = rly.get_interval_estimates(
        {"pair": (x, y)}, lambda a, b: np.array([rly_metrics.probability_of_improvement(a, b)]), reps=reps
    )
    np.random.seed(12)
    draws = [(np.random.choice(10, x.shape), np.random.choice(10, y.shape)) for _ in range(reps)]
    ix, iy = np.stack([d[0] for d in draws]), np.stack([d[1] for d in draws])
    boot = stats.probability_of_improvement(
        [x[ix[:, :, t], t] for t in range(5)], [y[iy[:, :, t], t] for t in range(5)]
    )
    np.testing.assert_allclose(np.percentile(boot, [2.5, 97.5]), intervals["pair"][:, 0], atol=1e-12)


def test_seeded_intervals_agree_with_rliable_within_monte_carlo_error(scores):
    # 4000 rliable resamples vs 20000 of ours: the endpoints' Monte Carlo error is ~1 % of the width.
    np.random.seed(0)
    for name, (theirs, ours) in PAIRS.items():
        _, intervals = rly.get_interval_estimates(scores, lambda s, f=theirs: np.array([f(s)]), reps=4000)
        for method in METHODS:
            low, high = intervals[method][:, 0]
            ci = stats.bootstrap_ci(scores[method], ours, seed=1, reps=20_000)
            width = high - low
            assert abs(ci.low - low) <= 0.06 * width, (name, method, ci, (low, high))
            assert abs(ci.high - high) <= 0.06 * width, (name, method, ci, (low, high))
    _, bands = rly.create_performance_profile(scores, TAUS, reps=4000)
    for method in METHODS:
        _, low, high = stats.performance_profile(scores[method], TAUS, seed=1, reps=20_000)
        # Profiles move in steps of 1/50 (one of 50 scores): allow one step.
        assert np.abs(low - bands[method][0]).max() <= 0.02 + 1e-9
        assert np.abs(high - bands[method][1]).max() <= 0.02 + 1e-9
