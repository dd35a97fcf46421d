"""analysis.stats on hand-computed arrays, and the coverage of its intervals on a known distribution."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import stats


def test_iqm_of_known_arrays():
    # n = 8: two scores cut at each end, the mean of the middle four.
    assert stats.iqm([np.arange(1.0, 9.0)]) == pytest.approx(4.5)
    assert stats.iqm([np.array([0.0, 1, 2, 3, 4, 5, 6, 100])]) == pytest.approx(3.5)  # robust to the outlier
    # Pooled over tasks: runs x tasks = 4 x 2 -> 8 scores.
    scores = np.array([[1.0, 2.0], [2.0, 2.0], [1.0, 1.0], [2.0, 1.0]])
    assert stats.iqm(scores) == pytest.approx(1.5)
    assert stats.aggregate_mean(scores) == pytest.approx(1.5)
    assert stats.aggregate_median(scores) == pytest.approx(1.5)


def test_mean_median_are_over_task_means():
    tasks = [np.array([0.0, 2.0]), np.array([10.0]), np.array([4.0, 4.0, 4.0])]  # task means 1, 10, 4
    assert stats.aggregate_mean(tasks) == pytest.approx(5.0)
    assert stats.aggregate_median(tasks) == pytest.approx(4.0)


def test_optimality_gap_clips_at_gamma():
    assert stats.optimality_gap([np.array([0.5, 1.5])]) == pytest.approx(0.25)
    assert stats.optimality_gap([np.array([2.0, 3.0])]) == pytest.approx(0.0)
    assert stats.optimality_gap([np.array([0.0])], gamma=0.5) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        ([3.0, 4.0], [1.0, 2.0], 1.0),  # every run of X beats every run of Y
        ([1.0, 2.0], [3.0, 4.0], 0.0),
        ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], 0.5),  # identical
        ([1.0, 3.0], [2.0], 0.5),  # one win, one loss
        ([1.0, 2.0], [2.0, 2.0], 0.25),  # ties count one half: (0 + 0 + 1/2 + 1/2) / 4
    ],
)
def test_probability_of_improvement_single_task(x, y, expected):
    assert stats.probability_of_improvement([np.array(x)], [np.array(y)]) == pytest.approx(expected)


def test_probability_of_improvement_averages_over_tasks():
    x = [np.array([5.0, 6.0]), np.array([0.0])]
    y = [np.array([1.0]), np.array([9.0, 9.0, 9.0])]  # task 1: 1.0, task 2: 0.0
    assert stats.probability_of_improvement(x, y) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="tasks"):
        stats.probability_of_improvement(x, y[:1])


def test_score_distribution_counts_scores_above_tau():
    tasks = [np.array([0.0, 0.5, 1.0, 1.5])]
    profile = stats.score_distribution(tasks, np.array([-1.0, 0.5, 2.0]))
    np.testing.assert_allclose(profile, [1.0, 0.5, 0.0])  # strictly above tau


def test_bootstrap_is_reproducible_and_seed_dependent():
    rng = np.random.default_rng(3)
    tasks = [rng.normal(size=10), rng.normal(size=7)]
    a = stats.bootstrap_ci(tasks, stats.iqm, seed=1, reps=500)
    b = stats.bootstrap_ci(tasks, stats.iqm, seed=1, reps=500)
    c = stats.bootstrap_ci(tasks, stats.iqm, seed=2, reps=500)
    assert a == b
    assert (a.low, a.high) != (c.low, c.high)
    assert a.low <= a.point <= a.high
    seq = stats.derive_seed(0, "figure", "trmrl")
    assert seq.entropy == stats.derive_seed(0, "figure", "trmrl").entropy
    assert seq.entropy != stats.derive_seed(0, "figure", "rl2").entropy


def test_single_run_gives_a_degenerate_interval():
    ci = stats.mean_ci(np.array([3.25]), seed=0, reps=100)
    assert ci == stats.Interval(3.25, 3.25, 3.25)
    profile, low, high = stats.performance_profile([np.array([0.3])], np.array([0.0, 0.5]), seed=0, reps=50)
    np.testing.assert_array_equal(profile, low)
    np.testing.assert_array_equal(profile, high)


def test_stratified_bootstrap_keeps_tasks_fixed():
    # Two tasks with constant scores: resampling runs within a task cannot change the task means.
    tasks = [np.full(5, 1.0), np.full(3, 3.0)]
    ci = stats.bootstrap_ci(tasks, stats.aggregate_mean, seed=0, reps=200)
    assert (ci.point, ci.low, ci.high) == (2.0, 2.0, 2.0)


def test_mean_ci_coverage_on_a_normal_distribution():
    # 400 experiments of 30 draws from N(1, 2^2): the 95 % percentile interval should cover the true mean
    # about 95 % of the time (the percentile bootstrap runs a little short at small n).
    rng = np.random.default_rng(12345)
    covered = 0
    trials = 400
    for i in range(trials):
        sample = rng.normal(1.0, 2.0, size=30)
        ci = stats.mean_ci(sample, seed=i, reps=1000)
        covered += ci.low <= 1.0 <= ci.high
    assert 0.91 <= covered / trials <= 0.98


def test_iqm_interval_coverage_over_tasks():
    # Stratified bootstrap of the IQM over 3 tasks x 10 runs of N(0, 1): covers the true IQM (0) ~95 %.
    rng = np.random.default_rng(7)
    trials = 200
    covered = sum(
        (ci := stats.bootstrap_ci(list(rng.normal(size=(3, 10))), stats.iqm, seed=i, reps=1000)).low
        <= 0.0
        <= ci.high
        for i in range(trials)
    )
    assert 0.88 <= covered / trials <= 0.99


def test_pair_interval_brackets_the_point():
    rng = np.random.default_rng(0)
    x = [rng.normal(1.0, size=8), rng.normal(0.5, size=8)]
    y = [rng.normal(0.0, size=5), rng.normal(0.0, size=6)]
    ci = stats.bootstrap_ci_pair(x, y, seed=0, reps=500)
    assert 0.5 < ci.point <= 1.0
    assert ci.low <= ci.point <= ci.high


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="at least one task"):
        stats.as_tasks([])
    with pytest.raises(ValueError, match="no runs"):
        stats.as_tasks([np.array([1.0]), np.array([])])
    with pytest.raises(ValueError, match="non-finite"):
        stats.as_tasks([np.array([np.nan])])
    with pytest.raises(ValueError, match="shape"):
        stats.as_tasks(np.zeros(3))
