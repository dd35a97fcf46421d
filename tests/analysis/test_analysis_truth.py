"""Analysis that tells the truth: intervals that keep their coverage, fixed references, paired comparisons,
degenerate and short runs, the traces figure, per-class success, provenance flags and the fallback table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis import cli, provenance, references, stats, tables
from analysis.figures import aggregates, online_adaptation, paired, per_class
from analysis.scripts.mpc_oracle import SETTINGS as MPC_SETTINGS
from analysis.scripts.point_nav_oracle import oracle_returns
from benchmark.results.schema import COLUMNS, read_table, validate
from benchmark.suites import SUITES

# --------------------------------------------------------------------------------------------------------
# Coverage by simulation (vectorised, fixed seeds)


@pytest.mark.parametrize("n", [3, 5, 10])
def test_t_interval_keeps_its_coverage_at_small_n(n):
    assert stats.t_interval_coverage(n, replications=20_000, seed=n) == pytest.approx(0.95, abs=0.02)


@pytest.mark.parametrize("n", [3, 5, 10])
def test_aggregate_interval_keeps_its_coverage_at_small_n(n):
    assert stats.aggregate_coverage(n, "mean", seed=n) == pytest.approx(0.95, abs=0.02)
    # IQM: never below nominal by more than two points (at n = 3 it is conservative, ~97 %).
    assert stats.aggregate_coverage(n, "iqm", seed=n) >= 0.93


def test_percentile_bootstrap_over_three_runs_undercovers():
    # Why the percentile bootstrap is not used: over n = 3 its interval is about [min, max].
    assert stats.percentile_bootstrap_coverage(3, seed=0) < 0.80


def test_t_interval_by_hand_and_with_one_run():
    ci = stats.t_interval(np.array([1.0, 2.0, 3.0]))
    half = 4.302653 / np.sqrt(3.0)  # t_{0.975, 2} * s / sqrt(n), s = 1
    assert (ci.point, ci.low, ci.high) == pytest.approx((2.0, 2.0 - half, 2.0 + half), rel=1e-6)
    single = stats.t_interval(np.array([5.0]))
    assert single.point == 5.0 and np.isnan(single.low) and np.isnan(single.high)


def test_clopper_pearson_known_values():
    low, high = stats.clopper_pearson(0, 10)
    assert low == 0.0 and high == pytest.approx(1.0 - 0.025 ** (1 / 10), rel=1e-9)
    low, high = stats.clopper_pearson(10, 10)
    assert high == 1.0 and low == pytest.approx(0.025 ** (1 / 10), rel=1e-9)
    low, high = stats.clopper_pearson(5, 10)
    assert low + high == pytest.approx(1.0) and low == pytest.approx(0.187086, abs=1e-6)
    with pytest.raises(ValueError):
        stats.clopper_pearson(3, 2)


# --------------------------------------------------------------------------------------------------------
# Fixed references


def test_every_suite_has_references_with_provenance():
    refs = references.load()
    assert set(refs) == set(SUITES)
    for suite, ref in refs.items():
        assert ref.metric == SUITES[suite].score_metric, suite
        assert "random policy" in ref.lower_provenance and "analysis.scripts" in ref.lower_provenance, suite
        assert len(ref.upper_provenance) > 20, suite
        if SUITES[suite].family == "metaworld":
            assert (ref.upper, ref.upper_kind) == (100.0, "definition") and 0 <= ref.lower < 100
        else:  # every suite now has a documented upper reference, so none is left out for lack of one
            assert ref.upper_kind == "oracle" and ref.upper is not None and ref.upper > ref.lower, suite
    assert "point_nav_oracle" in refs["point-nav"].upper_provenance


def test_locomotion_upper_references_are_the_committed_mpc_oracle_output():
    """One source per number: each MuJoCo suite's 1 is the mean that ``scripts/mpc_oracle.py`` printed, as
    stored beside it, and its provenance names the command and the episodes."""
    measured = pd.read_csv("analysis/scripts/mpc_oracle.out.csv").set_index("suite")
    refs = references.load()
    for suite in MPC_SETTINGS:
        ref = refs[suite]
        assert ref.upper is not None, suite
        assert ref.upper == pytest.approx(measured.loc[suite, "mean"], abs=5e-4 * abs(ref.upper)), suite
        assert "analysis.scripts.mpc_oracle" in ref.upper_provenance, suite
        assert f"{measured.loc[suite, 'episodes']} meta_test episodes" in ref.upper_provenance, suite


def test_point_nav_oracle_is_the_straight_walk():
    goals = np.array([[0.0, 0.0], [0.05, 0.0], [1.0, 0.0], [0.3, -0.4]])
    returns, success = oracle_returns(goals)
    assert returns[0] == 0.0 and returns[1] == 0.0  # already there / reached in the first step
    # A goal 1.0 away along x: distances 0.9, 0.8, ..., 0.1, 0, ... -> 4.5
    assert returns[2] == pytest.approx(-4.5)
    assert success.all()
    refs = references.load()
    rng = np.random.default_rng(0)
    radius, angle = np.sqrt(rng.uniform(size=50_000)), rng.uniform(0, 2 * np.pi, 50_000)
    sample = oracle_returns(np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=-1))[0]
    assert refs["point-nav"].upper == pytest.approx(sample.mean(), abs=0.02)


def test_random_references_agree_with_the_committed_random_runs():
    """The measured 0 of every suite agrees with the random runs of the committed table, within three
    standard errors of the difference (episodes of the final point; the reference's own error is in its
    provenance). The random agent does not learn, so only one grid point is independent."""
    import re

    df = read_table("results/reference/quick.parquet")
    refs = references.load()
    rows = df[(df["method"] == "random") & (df["split"] == "meta_test")]
    for suite, group in rows.groupby("suite"):
        ref = refs[suite]
        metric = "success" if ref.metric == "success" else "return"
        final = group[(group["metric"] == metric) & (group["env_steps"] == group["env_steps"].max())]
        values = final["value"].to_numpy(dtype=float) * (100.0 if metric == "success" else 1.0)
        sem_table = values.std(ddof=1) / np.sqrt(values.size)
        match = re.search(r"sem ([0-9.]+)", ref.lower_provenance)
        sem_ref = float(match.group(1)) if match else 0.0
        tolerance = 3 * np.hypot(sem_table, sem_ref) + 1e-9
        assert abs(values.mean() - ref.lower) <= tolerance, (suite, values.mean(), ref.lower, tolerance)


def test_references_file_is_checked(tmp_path):
    path = tmp_path / "refs.csv"
    header = "suite,metric,lower,lower_provenance,upper,upper_kind,upper_provenance\n"
    path.write_text(header + "s,return,0,measured,,oracle,x\n")
    with pytest.raises(ValueError, match="upper_kind 'none'"):
        references.load(path)
    path.write_text(header + "s,return,0,,1,oracle,x\n")
    with pytest.raises(ValueError, match="provenance"):
        references.load(path)


# --------------------------------------------------------------------------------------------------------
# Constructed tables with known answers


def _table(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    return validate(frame[list(COLUMNS)])


def _final_rows(suite, method, seed, env_steps, scores, metric="return", task_names=None):
    """One evaluation of ``len(scores)`` single-episode trials."""
    names = task_names or [None] * len(scores)
    return [
        {
            "run_id": f"{method}-{suite}-{seed}",
            "method": method,
            "suite": suite,
            "split": "meta_test",
            "seed": seed,
            "env_steps": env_steps,
            "trial": i,
            "task_id": i,
            "task_name": names[i],
            "episode": 1,
            "task_param": None,
            "metric": metric,
            "value": float(v),
        }
        for i, v in enumerate(scores)
    ]


# Per seed a large shared effect (the seed's tasks), and known method offsets on top of it.
SEED_EFFECT = {0: 0.0, 1: -40.0, 2: 25.0, 3: -10.0}
RL2_MINUS_TRMRL = {0: 1.0, 1: 1.5, 2: 0.5, 3: -1.0}


@pytest.fixture(scope="module")
def paired_table() -> pd.DataFrame:
    rows = []
    for seed, effect in SEED_EFFECT.items():
        base = -12.0 + effect
        for method, offset in (("random", 0.0), ("trmrl", 2.0), ("rl2", 2.0 + RL2_MINUS_TRMRL[seed])):
            for steps in (0, 1000):
                rows += _final_rows(
                    "point-nav", method, seed, steps, [base + offset - 1.0, base + offset + 1.0]
                )
    return _table(rows)


def test_paired_differences_have_the_known_answer(paired_table):
    summary, per_seed = paired.compute(paired_table)
    rl2 = per_seed[(per_seed["method"] == "rl2") & (per_seed["versus"] == "trmrl")]
    np.testing.assert_allclose(rl2["difference"], list(RL2_MINUS_TRMRL.values()))
    row = summary[(summary["method"] == "rl2") & (summary["versus"] == "trmrl")].iloc[0]
    expected = stats.t_interval(np.array(list(RL2_MINUS_TRMRL.values())))
    assert (row["mean_difference"], row["ci_low"], row["ci_high"]) == pytest.approx(
        (0.5, expected.low, expected.high)
    )
    assert row["n_pairs"] == 4 and row["interval"] == "95% Student-t over 4 paired seeds"
    trmrl = summary[(summary["method"] == "trmrl") & (summary["versus"] == "random")].iloc[0]
    # Identical offset in every seed: the difference is exactly 2 with no spread.
    assert (trmrl["mean_difference"], trmrl["ci_low"], trmrl["ci_high"]) == pytest.approx((2.0, 2.0, 2.0))
    assert not ((summary["method"] == "random") & (summary["versus"] == "trmrl")).any()
    assert set(summary["split"]) == {"meta_test"}  # the table has no ood rows


def test_paired_differences_cover_the_ood_split(paired_table):
    """The paper's OOD claim is a paired comparison on the ood split: it gets its own rows. Here TrMRL scores
    1 more on ood than on meta_test, so RL² − TrMRL is 1 lower there, seed by seed."""
    ood = paired_table.copy()
    ood["split"] = "ood"
    ood.loc[ood["method"] == "trmrl", "value"] += 1.0
    summary, per_seed = paired.compute(pd.concat([paired_table, ood], ignore_index=True))
    rl2 = per_seed[(per_seed["method"] == "rl2") & (per_seed["versus"] == "trmrl")].set_index(
        ["split", "seed"]
    )
    np.testing.assert_allclose(rl2.loc["ood", "difference"], np.array(list(RL2_MINUS_TRMRL.values())) - 1.0)
    np.testing.assert_allclose(rl2.loc["meta_test", "difference"], list(RL2_MINUS_TRMRL.values()))
    row = summary[(summary["split"] == "ood") & (summary["method"] == "rl2") & (summary["versus"] == "trmrl")]
    assert row["mean_difference"].item() == pytest.approx(-0.5) and row["n_pairs"].item() == 4


def test_probability_of_improvement_is_paired(paired_table):
    final = tables.final_scores(paired_table)
    n_pairs, wins, probability, low, high = aggregates.paired_poi(final, "trmrl", "rl2", ["point-nav"])
    # RL² beats TrMRL in 3 of 4 seeds: TrMRL wins 1 of 4. Unpaired, the seed effect would blur this.
    assert (n_pairs, wins, probability) == (4, 1.0, 0.25)
    assert (low, high) == pytest.approx(tuple(float(b) for b in stats.clopper_pearson(1, 4)))


def test_a_degenerate_suite_is_flagged_and_left_out(paired_table):
    push = []
    for seed in range(3):
        for method in ("random", "trmrl", "rl2"):
            push += _final_rows("ml1-push", method, seed, 1000, [0.0, 0.0], metric="success")
    df = pd.concat([paired_table, _table(push)], ignore_index=True)
    result = aggregates.compute(df, reps=200)
    status = result.tables["normalization"].set_index("suite")
    assert status.loc["ml1-push", "degenerate"] and not status.loc["ml1-push", "aggregated"]
    assert status.loc["ml1-push", "reason"].startswith("degenerate: every run of every method scores 0")
    assert result.suites == ["point-nav"]
    assert set(result.tables["aggregates"]["n_suites"]) == {1}


def test_a_short_run_is_reported_and_everyone_is_compared_where_it_stopped(paired_table):
    # Everyone continues to 2000 steps except rl2 seed 3, which stopped at 1000.
    more = []
    for seed in SEED_EFFECT:
        for method in ("random", "trmrl", "rl2"):
            if (method, seed) != ("rl2", 3):
                more += _final_rows("point-nav", method, seed, 2000, [100.0, 100.0])
    df = pd.concat([paired_table, _table(more)], ignore_index=True)
    short = tables.incomplete_runs(df)
    assert short[
        ["method", "seed", "last_env_steps", "suite_max_env_steps", "compared_at"]
    ].values.tolist() == [["rl2", 3, 1000, 2000, 1000]]
    final = tables.final_scores(df)
    assert set(final["env_steps"]) == {1000}  # the 2000-step scores (100) never enter the comparison
    assert final["score"].max() < 50


# --------------------------------------------------------------------------------------------------------
# Traces figure and per-class success


def _traces(methods=("trmrl", "rl2"), seeds=(0, 1), episodes=3, horizon=10) -> pd.DataFrame:
    rows = []
    for method in methods:
        for seed in seeds:
            for trial in range(2):
                for step in range(episodes * horizon):
                    episode, t = divmod(step, horizon)
                    # Within-episode adaptation: reward rises over each episode; seed shifts everything.
                    reward = t / horizon + seed + (0.5 if method == "rl2" else 0.0) + 0.1 * trial
                    rows.append(
                        (
                            f"{method}-{seed}",
                            method,
                            "halfcheetah-vel",
                            "meta_test",
                            seed,
                            500,
                            trial,
                            trial,
                            None,
                            1.0,
                            episode + 1,
                            step,
                            reward,
                        )
                    )
    columns = ["run_id", "method", "suite", "split", "seed", "env_steps", "trial", "task_id", "task_name",
               "task_param", "episode", "step", "reward"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def test_online_adaptation_curve_and_episode_boundaries(tmp_path):
    traces = _traces()
    curves, boundaries = online_adaptation.compute(traces)
    trmrl = curves[curves["method"] == "trmrl"].set_index("step")
    # Mean over trials (+0.05) then over seeds (+0.5): step t of an episode -> t/10 + 0.55.
    assert trmrl.loc[3, "mean"] == pytest.approx(0.3 + 0.55)
    assert trmrl.loc[13, "mean"] == pytest.approx(0.3 + 0.55)
    expected = stats.t_interval(np.array([0.35, 1.35]))
    assert (trmrl.loc[3, "ci_low"], trmrl.loc[3, "ci_high"]) == pytest.approx((expected.low, expected.high))
    assert boundaries["first_step"].tolist() == [0, 10, 20]
    paths = online_adaptation.make(traces, tmp_path, pdf=False)
    assert (tmp_path / "online_adaptation.png").exists() and paths[-1].name == "online_adaptation.csv"
    one_seed, _ = online_adaptation.compute(_traces(seeds=(0,)))
    assert one_seed["ci_low"].isna().all() and set(one_seed["interval"]) == {"none (1 run)"}
    online_adaptation.make(None, tmp_path, pdf=False)  # no traces table: a placeholder figure


def test_per_class_success_table(tmp_path):
    rows = []
    names = ["drawer-open-v3", "drawer-open-v3", "door-lock-v3", "door-lock-v3"]
    for seed in range(2):
        for method, successes in (("trmrl", [1, 1, 0, 0]), ("rl2", [1, 0, 0, 1])):
            rows += _final_rows("ml10", method, seed, 1000, successes, metric="success", task_names=names)
    table = per_class.compute(_table(rows)).set_index(["method", "task_name"])
    drawer = table.loc[("trmrl", "drawer-open-v3")]
    assert (drawer["n_runs"], drawer["n_trials"], drawer["successes"], drawer["success_rate"]) == (
        2,
        4,
        4,
        100,
    )
    assert drawer["ci_low"] == pytest.approx(100 * 0.025 ** (1 / 4))
    assert table.loc[("rl2", "door-lock-v3"), "success_rate"] == 50
    per_class.make(_table(rows), tmp_path, pdf=False)
    assert (tmp_path / "per_class_success.png").exists()


# --------------------------------------------------------------------------------------------------------
# Provenance and the fallback table


def test_mixed_code_versions_and_devices_are_flagged(tmp_path):
    for i, (commit, device) in enumerate([("a" * 40, "cpu"), ("b" * 40, "cuda:0"), ("b" * 40, "cpu")]):
        run = tmp_path / f"run{i}"
        run.mkdir()
        manifest = {
            "status": "completed",
            "git": {"commit": commit, "dirty": i == 2},
            "runtime": {"device": device},
        }
        (run / "manifest.json").write_text(json.dumps(manifest))
    flags = provenance.flags(["run0", "run1", "run2", "run3"], tmp_path)
    text = " ".join(flags)
    assert "Mixed code versions" in text and "Mixed devices" in text and "uncommitted" in text
    assert "1 of 4 runs have no readable manifest" in text
    assert "unknown" in provenance.flags(["x"], tmp_path / "nowhere")[0]


def test_the_default_table_falls_back_to_the_reference_results(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "DEFAULT_RESULTS", tmp_path / "results.parquet")
    path, note = cli.resolve_results(tmp_path / "results.parquet")
    assert path.name == "quick.parquet" and path.exists() and "committed reference results" in note
    # A table the user names explicitly never falls back.
    assert cli.resolve_results(tmp_path / "mine.parquet") == (tmp_path / "mine.parquet", None)


def test_provenance_is_read_from_the_runs_table_beside_the_results(tmp_path):
    """`benchmark results` writes runs.parquet; a committed table is flagged without any run folder."""
    from analysis import provenance

    runs = pd.DataFrame(
        {
            "run_id": ["a", "b"],
            "commit": ["c1", "c1"],
            "dirty": [False, False],
            "device": ["cpu", "cuda"],
            "threads": [1, 1],
        }
    )
    path = tmp_path / "runs.parquet"
    runs.to_parquet(path)
    sentences = provenance.flags(["a", "b"], runs_dir=None, runs_table=path)
    assert any("Mixed devices" in s for s in sentences)
    assert provenance.flags(["a"], runs_dir=None, runs_table=path) == ["All 1 runs: commit c1, device cpu."]
