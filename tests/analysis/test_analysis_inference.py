"""Gains since the start, area under the curve, env steps to a threshold and bootstrapped ranks
(:mod:`analysis.inference`), on small tables built by hand whose answers are known in closed form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from analysis import inference, references, report, tables
from analysis.figures import auc as auc_figure
from benchmark.results.schema import COLUMNS, validate

SUITE = "point-nav"  # scored by its return
REFS = {
    SUITE: references.Reference(SUITE, "return", 0.0, "test", 100.0, "oracle", "test"),
}
T2 = scipy_stats.t.ppf(0.975, 2)  # Student-t quantile over 3 seeds


def table(curves: dict[tuple[str, int], dict[int, float]], split_scores: dict | None = None) -> pd.DataFrame:
    """A results table with one trial of one episode per evaluation: ``curves[(method, seed)][env_steps]``
    is the meta-test score (``split_scores`` the same for ``ood``)."""
    rows = []
    for split, source in (("meta_test", curves), ("ood", split_scores or {})):
        for (method, seed), curve in source.items():
            for env_steps, score in curve.items():
                rows.append(
                    (
                        f"{method}-{seed}",
                        method,
                        SUITE,
                        split,
                        seed,
                        env_steps,
                        0,
                        0,
                        None,
                        1,
                        0.5,
                        "return",
                        float(score),
                    )
                )
    return validate(pd.DataFrame(rows, columns=list(COLUMNS)))


# Three seeds; TrMRL learns 5, 7, 9 from different starts; RL² starts where TrMRL does and never moves;
# random stays 10 below TrMRL's start in every seed; MAML has an extra grid point (25) nobody else has.
CURVES = {
    **{("trmrl", s): {0: 10.0 + 10 * s, 50: 20.0 + 10 * s, 100: 15.0 + 12 * s} for s in range(3)},
    **{("rl2", s): {0: 10.0 + 10 * s, 50: 10.0 + 10 * s, 100: 10.0 + 10 * s} for s in range(3)},
    **{("random", s): {0: 10 * s, 50: 10 * s, 100: 10 * s} for s in range(3)},
    **{("maml", s): {0: 12.0 + 10 * s, 25: 90.0, 50: 60.0, 100: 40.0 + s} for s in range(3)},
}
# TrMRL's gains: 15 - 10 = 5, 27 - 20 = 7, 39 - 30 = 9 (mean 7, sd 2)


@pytest.fixture(scope="module")
def hand_table() -> tables.ScoreTable:
    ood = {("trmrl", 0): {0: 1.0, 100: 4.0}, ("trmrl", 1): {0: 2.0, 100: 4.0}}
    return tables.score_table(table(CURVES, ood))


def test_gains_since_start_pair_each_run_with_its_own_untrained_agent(hand_table):
    gains = inference.gains_since_start(hand_table).set_index(["split", "method"])
    trmrl = gains.loc[("meta_test", "trmrl")]
    half = T2 * 2.0 / np.sqrt(3)
    assert trmrl["n_pairs"] == 3 and trmrl["env_steps"] == 100
    assert trmrl["start_mean"] == pytest.approx(20.0) and trmrl["final_mean"] == pytest.approx(27.0)
    assert trmrl["gain"] == pytest.approx(7.0)
    assert (trmrl["ci_low"], trmrl["ci_high"]) == pytest.approx((7.0 - half, 7.0 + half))
    assert trmrl["gain_verdict"] == "improved" and trmrl["interval"] == "95% Student-t over 3 paired seeds"
    # 10 above random at env step 0 in every seed: an interval of zero width above 0
    assert trmrl["start_minus_random"] == pytest.approx(10.0)
    assert trmrl["start_minus_random_ci_low"] == pytest.approx(10.0)
    assert trmrl["untrained_vs_random"] == "beats random" and trmrl["n_random_pairs"] == 3
    assert gains.loc[("meta_test", "rl2"), "gain_verdict"] == "unchanged"
    assert gains.loc[("meta_test", "random"), "gain"] == 0.0
    assert np.isnan(gains.loc[("meta_test", "random"), "start_minus_random"])
    # ood: two seeds of TrMRL, no random there
    ood = gains.loc[("ood", "trmrl")]
    assert ood["n_pairs"] == 2 and ood["gain"] == pytest.approx(2.5)
    assert ood["untrained_vs_random"] == "no random run on these seeds"


def test_one_run_gets_no_interval(hand_table):
    one = table({("trmrl", 0): CURVES[("trmrl", 0)], ("random", 0): CURVES[("random", 0)]})
    row = inference.gains_since_start(one).set_index("method").loc["trmrl"]
    assert row["gain"] == 5.0 and np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])
    assert row["interval"] == "none (1 pair)" and row["gain_verdict"] == "no interval (1 run)"


def test_gains_at_own_end_read_a_longer_method_where_it_ended():
    # RL² runs to 200 (its profile's larger budget), TrMRL to 100: the common point is 100
    curves = {
        **{("trmrl", s): {0: 10.0, 50: 12.0, 100: 15.0 + s} for s in range(3)},
        **{("rl2", s): {0: 10.0, 100: 11.0, 150: 30.0, 200: 20.0 + 2 * s} for s in range(3)},
    }
    ends = tables.method_end_points(tables.score_table(table(curves))).set_index("method")["end_env_steps"]
    assert ends.to_dict() == {"rl2": 200, "trmrl": 100}
    common = inference.gains_since_start(table(curves)).set_index("method")
    own = inference.gains_since_start(table(curves), at="own").set_index("method")
    assert common.loc["rl2", "env_steps"] == 100 and common.loc["rl2", "gain"] == pytest.approx(1.0)
    assert own.loc["rl2", "env_steps"] == 200 and own.loc["rl2", "gain"] == pytest.approx(12.0)
    assert own.loc["rl2", "gain_verdict"] == "improved"
    # TrMRL ends at the common point: both readings agree
    pd.testing.assert_series_equal(common.loc["trmrl"], own.loc["trmrl"])
    lines = "\n".join(report_lines_of(table(curves)))
    assert "each method's own final point" in lines and "0 → 200: +12.0" in lines
    # every run at one end point: the report has no second table
    assert "own final point" not in "\n".join(report_lines_of(table(CURVES)))
    with pytest.raises(ValueError, match="at='last'"):
        inference.gains_since_start(table(curves), at="last")


def report_lines_of(df: pd.DataFrame) -> list[str]:
    return inference.report_lines(df, reps=200)


def test_untrained_differences_flag_methods_that_start_apart(hand_table):
    diff = inference.untrained_differences(hand_table)
    diff = diff[diff["split"] == "meta_test"].set_index(["method", "versus"])
    assert "random" not in set(diff.index.get_level_values(0)) | set(diff.index.get_level_values(1))
    assert diff.loc[("trmrl", "rl2"), "verdict"] == "identical"
    maml = diff.loc[("trmrl", "maml")]  # 2 below MAML in every seed
    assert maml["mean_difference"] == pytest.approx(-2.0) and maml["verdict"] == "differ"
    assert inference.identical_groups([("a", "b"), ("c", "b"), ("d", "e")]) == [["a", "b", "c"], ["d", "e"]]


def test_auc_is_the_trapezoid_over_the_common_grid_divided_by_its_span(hand_table):
    per_run = inference.auc_per_run(hand_table, REFS).set_index(["method", "seed"])
    # TrMRL seed s on the grid 0, 50, 100: ((a + b) / 2 * 50 + (b + c) / 2 * 50) / 100
    for s in range(3):
        curve = [10.0 + 10 * s, 20.0 + 10 * s, 15.0 + 12 * s]
        expected = ((curve[0] + curve[1]) / 2 * 50 + (curve[1] + curve[2]) / 2 * 50) / 100
        assert per_run.loc[("trmrl", s), "auc_raw"] == pytest.approx(expected)
        assert per_run.loc[("trmrl", s), "auc"] == pytest.approx(expected / 100.0)
    # MAML's point at 25 is not on the common grid: (12+10s + 60)/4 + (60 + 40+s)/4
    assert per_run.loc[("maml", 0), "auc_raw"] == pytest.approx((12 + 60) / 4 + (60 + 40) / 4)
    assert set(per_run["grid"]) == {"0-100 (3 points)"} and set(per_run["n_points"]) == {3}
    assert set(per_run["unit"]) == {"normalised (0 = random, 1 = oracle)"}
    raw = inference.auc_per_run(hand_table, {})  # no references: the score's own unit
    assert set(raw["unit"]) == {"return"} and (raw["auc"] == raw["auc_raw"]).all()


def test_auc_summary_pairs_differences_against_trmrl_by_seed(hand_table):
    summary = inference.auc_summary(inference.auc_per_run(hand_table, REFS))
    own = summary[summary["versus"] == ""].set_index("method")
    versus = summary[summary["versus"] == "trmrl"].set_index("method")
    assert set(versus.index) == {"rl2", "maml"}  # random is the control, TrMRL the reference
    # RL² is flat at 10 + 10 s; TrMRL's AUC is (a + 2 b + c) / 4 over its three grid points
    trmrl = np.array([(10 + 10 * s + 20 + 10 * s) / 4 + (20 + 10 * s + 15 + 12 * s) / 4 for s in range(3)])
    rl2 = np.array([10.0 + 10 * s for s in range(3)])
    diff = (rl2 - trmrl) / 100.0
    half = T2 * diff.std(ddof=1) / np.sqrt(3)
    row = versus.loc["rl2"]
    assert row["mean"] == pytest.approx(diff.mean()) and row["n"] == 3
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((diff.mean() - half, diff.mean() + half))
    assert row["verdict"] == "lower"
    assert own.loc["trmrl", "mean"] == pytest.approx(trmrl.mean() / 100.0)
    assert own.loc["trmrl", "interval"] == "95% Student-t over 3 runs"


def test_steps_to_threshold_censors_runs_that_never_reach_it():
    curves = {
        # threshold: half-way from 0 to 100 = 50
        **{("trmrl", s): {0: 0.0, 50: 50.0 + s, 100: 60.0} for s in range(3)},  # all at 50
        ("rl2", 0): {0: 0.0, 50: 55.0, 100: 60.0},
        ("rl2", 1): {0: 0.0, 50: 10.0, 100: 51.0},
        ("rl2", 2): {0: 0.0, 50: 10.0, 100: 49.0},  # never: censored
        **{("maml", s): {0: 0.0, 50: 10.0 * s, 100: 40.0 + 6 * s} for s in range(3)},  # only seed 2 does
        **{("random", s): {0: 0.0, 50: 0.0, 100: 0.0} for s in range(3)},
    }
    steps = inference.steps_to_threshold(table(curves), REFS).set_index("method")
    assert "random" not in steps.index
    assert set(steps["threshold"]) == {50.0}
    trmrl = steps.loc["trmrl"]
    assert trmrl["n_reached"] == 3 and trmrl["mean"] == 50.0 and trmrl["ci_low"] == trmrl["ci_high"] == 50.0
    rl2 = steps.loc["rl2"]
    assert rl2["n_reached"] == 2 and np.isnan(rl2["mean"]) and np.isnan(rl2["ci_low"])
    assert rl2["median"] == 100.0 and rl2["summary"] == "median 100 (2 of 3 reached)"
    assert rl2["per_seed"] == "s0: 50, s1: 100, s2: > 100"
    assert rl2["interval"] == "none (1 of 3 runs censored)"
    maml = steps.loc["maml"]
    assert maml["n_reached"] == 1 and np.isnan(maml["median"]) and maml["summary"] == "> 100 (1 of 3 reached)"


def test_a_threshold_interval_is_cut_at_zero_steps():
    curves = {
        ("trmrl", 0): {0: 0.0, 50: 0.0, 100: 90.0},
        ("trmrl", 1): {0: 60.0, 50: 60.0, 100: 90.0},  # reaches it untrained
        ("trmrl", 2): {0: 0.0, 50: 90.0, 100: 90.0},
    }
    row = inference.steps_to_threshold(table(curves), REFS).iloc[0]
    assert row["mean"] == 50.0 and row["ci_low"] == 0.0 and row["ci_high"] > 100.0


def test_ranks_are_deterministic_for_a_seed_and_probabilities_sum_to_one():
    rng = np.random.default_rng(3)
    values = {m: rng.normal(loc, 1.0, size=3) for m, loc in (("a", 0.0), ("b", 0.5), ("c", 1.0), ("d", 9.0))}
    values["e"] = values["a"].copy()  # same values as a, resampled from its own generator
    first = inference.rank_probabilities(values, seed=7, keys=("ranks", "s", "final"), reps=2000)
    again = inference.rank_probabilities(values, seed=7, keys=("ranks", "s", "final"), reps=2000)
    other = inference.rank_probabilities(values, seed=8, keys=("ranks", "s", "final"), reps=2000)
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)
    p = first[[f"p_rank_{k}" for k in range(1, 6)]].to_numpy()
    assert np.allclose(p.sum(axis=1), 1.0) and np.allclose(p.sum(axis=0), 1.0)
    d = first.set_index("method").loc["d"]
    assert d["p_rank_1"] == 1.0 and d["rank"] == 1 and d["mean_rank"] == 1
    assert d["rank_low"] == d["rank_high"] == 1
    # the mean rank is the probability-weighted rank
    assert np.allclose(first["mean_rank"], p @ np.arange(1, 6))
    # a method's draws depend on the seed and its own name only: dropping one leaves the others' draws
    fewer = inference.rank_probabilities(
        {m: values[m] for m in ("a", "d")}, seed=7, keys=("ranks", "s", "final"), reps=2000
    )
    assert fewer.set_index("method").loc["d", "p_rank_1"] == 1.0


def test_ties_share_their_ranks_equally():
    values = {"a": np.array([0.0, 0.0]), "b": np.array([0.0, 0.0]), "c": np.array([1.0, 1.0])}
    ranked = inference.rank_probabilities(values, seed=0, keys=("x",), reps=100).set_index("method")
    assert ranked.loc["c", "p_rank_1"] == 1.0
    for m in ("a", "b"):
        assert ranked.loc[m, "p_rank_2"] == ranked.loc[m, "p_rank_3"] == 0.5
        assert ranked.loc[m, "rank"] == ranked.loc[m, "mean_rank"] == 2.5


def test_the_builder_writes_every_csv_and_the_report_its_sections(hand_table, tmp_path):
    written = auc_figure.make(hand_table, tmp_path, seed=0, reps=200, pdf=False)
    names = {p.name for p in written}
    for name in inference.SORT_KEYS:
        assert f"{name}.csv" in names
    assert "auc.png" in names
    ranks = pd.read_csv(tmp_path / "ranks.csv")
    assert set(ranks["quantity"]) == {"final", "auc"}
    p = ranks[[c for c in ranks.columns if c.startswith("p_rank_")]].to_numpy()
    assert np.allclose(p.sum(axis=1), 1.0)
    report.make(hand_table, tmp_path, seed=0, reps=200)
    text = (tmp_path / "report.md").read_text()
    headings = ("## Gains since the start", "### Area under the meta-test curve", "### Env steps to reach")
    for heading in headings:
        assert heading in text
    assert "**Untrained agents already score above the random policy**" in text
    assert "Identical untrained scores in every seed: point-nav meta-test: TrMRL = RL²." in text
    assert "- point-nav meta-test: RL² (20.0)" in text  # unchanged since the start
    assert "point-nav, RL² − TrMRL:" in text
