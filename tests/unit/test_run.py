"""One run through the harness: files, manifest, idempotence, failure handling, determinism, bad input."""

import json

import pandas as pd
import pytest

from benchmark import registry
from benchmark.agent import AgentBase
from benchmark.errors import BenchmarkError
from benchmark.request import resolve_run
from benchmark.results.store import read_run_metrics
from benchmark.run import execute_run, load_checkpoint


def run_point_nav(runs_dir, seed=0, **kwargs):
    spec, config = resolve_run("random", "point-nav", seed, "smoke", **kwargs)
    return spec, execute_run(spec, config, runs_dir, progress=False)


def test_run_writes_metrics_manifest_and_checkpoint(tmp_path):
    spec, outcome = run_point_nav(tmp_path)
    assert outcome.status == "completed" and outcome.run_dir == tmp_path / spec.run_id
    manifest = json.loads((outcome.run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["spec"]["seed"] == 0
    assert set(manifest["git"]) == {"commit", "dirty"} and manifest["packages"]["gymnasium"]
    assert manifest["env_steps"] >= spec.budget_env_steps and manifest["wall_s"] > 0
    metrics = read_run_metrics(outcome.run_dir)
    assert sorted(metrics["env_steps"].unique()) == list(spec.eval_grid)
    assert set(metrics["split"]) == {"meta_train", "meta_test", "ood"}
    assert set(metrics["metric"]) == {"return", "success", "episode_length"}
    per_point = metrics[metrics["metric"] == "return"].groupby("env_steps").size()
    assert (per_point == 3 * spec.eval.num_tasks * spec.eval.episodes).all()
    checkpoint = load_checkpoint(outcome.run_dir / "checkpoint.pt")
    assert checkpoint["env_steps"] == manifest["env_steps"] and "rng" in checkpoint["agent"]


def test_completed_run_is_skipped_and_forced_run_keeps_the_old_one(tmp_path):
    spec, first = run_point_nav(tmp_path)
    spec, config = resolve_run("random", "point-nav", 0, "smoke")
    assert execute_run(spec, config, tmp_path, progress=False).status == "skipped"
    assert execute_run(spec, config, tmp_path, progress=False, force=True).status == "completed"
    assert len(list((tmp_path / ".incomplete").iterdir())) == 1


def test_same_seed_same_metrics_other_seed_other_run(tmp_path):
    spec_a, a = run_point_nav(tmp_path / "a")
    spec_b, b = run_point_nav(tmp_path / "b")
    values_a = read_run_metrics(a.run_dir)["value"].to_numpy()
    assert spec_a.run_id == spec_b.run_id
    assert (values_a == read_run_metrics(b.run_dir)["value"].to_numpy()).all()
    spec_c, _ = resolve_run("random", "point-nav", 1, "smoke")
    assert spec_c.run_id != spec_a.run_id


def test_run_id_depends_on_config_overrides_and_budget():
    base, _ = resolve_run("random", "point-nav", 0, "smoke")
    other, config = resolve_run("random", "point-nav", 0, "smoke", overrides=["num_trials=2"])
    assert config.num_trials == 2 and other.run_id != base.run_id
    assert resolve_run("random", "point-nav", 0, "smoke", budget_env_steps=800)[0].run_id != base.run_id


def test_precision_is_part_of_the_run_id_only_when_not_fp32_and_reaches_the_agent(tmp_path, monkeypatch):
    base, _ = resolve_run("pearl", "point-nav", 0, "smoke")
    # The default's spec JSON (hashed into the id) is what it was before the field existed: no new key.
    assert base.precision == "fp32" and "precision" not in base.to_json()
    assert resolve_run("pearl", "point-nav", 0, "smoke", precision="fp32")[0].run_id == base.run_id
    bf16, config = resolve_run("pearl", "point-nav", 0, "smoke", precision="bf16")
    assert bf16.to_json()["precision"] == "bf16" and bf16.run_id != base.run_id
    with pytest.raises(BenchmarkError, match="random does not support precision bf16"):
        resolve_run("random", "point-nav", 0, "smoke", precision="bf16")
    with pytest.raises(BenchmarkError, match="unknown precision 'fp16'"):
        resolve_run("pearl", "point-nav", 0, "smoke", precision="fp16")
    seen = []
    factory = registry.load_method("pearl")

    def recording_factory(config, spec, seed, runtime):
        seen.append(runtime.precision)
        return factory(config, spec, seed, runtime)

    original = registry.load_method
    monkeypatch.setattr(
        registry, "load_method", lambda name: recording_factory if name == "pearl" else original(name)
    )
    outcome = execute_run(bf16, config, tmp_path, progress=False)
    assert seen == ["bf16"]  # from the spec, whatever runtime the caller passed
    manifest = json.loads((outcome.run_dir / "manifest.json").read_text())
    assert manifest["spec"]["precision"] == "bf16" and manifest["runtime"]["precision"] == "bf16"


class ExplodingAgent(AgentBase):
    Config = registry.load_method("random").Config

    def __init__(self, config, spec, seed, runtime=None):
        self.inner = registry.load_method("random")(config, spec, seed, runtime)

    @classmethod
    def default_config(cls, suite, profile):
        return cls.Config()

    @classmethod
    def config_record(cls, suite, tier):
        return registry.load_method("random").config_record(suite, tier)

    def meta_train(self, ctx):
        yield
        raise RuntimeError("boom")

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_failed_run_is_marked_and_resumed_on_retry_without_duplicate_rows(tmp_path, monkeypatch):
    monkeypatch.setitem(
        registry.METHODS, "exploding", registry.MethodEntry("tests.unit.test_run:ExplodingAgent", "")
    )
    spec, config = resolve_run("exploding", "point-nav", 0, "smoke")
    with pytest.raises(RuntimeError, match="boom"):
        execute_run(spec, config, tmp_path, progress=False)
    manifest = json.loads((tmp_path / spec.run_id / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "boom" in manifest["error"]
    rows = len(read_run_metrics(tmp_path / spec.run_id))
    assert rows > 0  # the evaluation at env_steps=0 survived
    with pytest.raises(RuntimeError):  # the retry resumes from the resume point written after it
        execute_run(spec, config, tmp_path, progress=False)
    manifest = json.loads((tmp_path / spec.run_id / "manifest.json").read_text())
    assert manifest["status"] == "failed" and len(manifest["resumed"]) == 1
    assert len(read_run_metrics(tmp_path / spec.run_id)) == rows  # nothing written twice
    assert not (tmp_path / ".incomplete").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "nope"}, "unknown method 'nope'"),
        ({"suite": "nope"}, "unknown suite 'nope'"),
        ({"profile": "nope"}, "unknown profile 'nope'"),
        ({"seed": -1}, "seed must lie in"),
        ({"budget_env_steps": 0}, "budget must be a positive"),
        ({"overrides": ["num_trials"]}, "malformed override"),
        ({"overrides": ["no_such_field=1"]}, "has no field"),
        ({"overrides": ["num_trials=many"]}, "cannot parse"),
    ],
)
def test_bad_input_is_a_one_line_benchmark_error(kwargs, message):
    args = {"method": "random", "suite": "point-nav", "seed": 0, "profile": "smoke", **kwargs}
    with pytest.raises(BenchmarkError, match=message) as info:
        resolve_run(**args)
    assert "\n" not in str(info.value)


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"\x00garbage")
    with pytest.raises(BenchmarkError, match="corrupt checkpoint"):
        load_checkpoint(path)
    with pytest.raises(BenchmarkError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "absent.pt")


def test_grid_points_crossed_in_one_iteration_are_evaluated_once_at_the_largest(tmp_path):
    # One yield of the random agent is 4 one-episode trials x 20 steps = 80 env steps: crosses 30 and 60.
    spec, outcome = run_point_nav(tmp_path, budget_env_steps=60)
    assert spec.eval_grid == (0, 30, 60)
    evaluations = json.loads((outcome.run_dir / "manifest.json").read_text())["evaluations"]
    assert [e["grid_env_steps"] for e in evaluations] == [0, 60]
    assert evaluations[1]["skipped_grid_points"] == [30] and evaluations[1]["actual_env_steps"] == 80
    assert sorted(pd.read_csv(outcome.run_dir / "metrics.csv")["env_steps"].unique()) == [0, 60]


def test_eval_options_runtime_and_exploration_are_resolved_and_recorded(tmp_path):
    from benchmark.agent import Runtime

    spec, config = resolve_run("random", "point-nav", 0, "smoke", eval_tasks=3, eval_episodes=4)
    assert (spec.eval.num_tasks, spec.eval.episodes, spec.eval.exploration_episodes) == (3, 4, 0)
    assert spec.eval.action_mode == "mean"
    assert resolve_run("random", "ml1-push", 0, "smoke")[0].eval.action_mode == "sample"
    other, _ = resolve_run(
        "random", "point-nav", 0, "smoke", eval_tasks=3, eval_episodes=4, exploration_episodes=1
    )
    assert other.eval.exploration_episodes == 1 and other.run_id != spec.run_id
    with pytest.raises(BenchmarkError, match="exploration_episodes"):
        resolve_run("random", "point-nav", 0, "smoke", eval_episodes=2, exploration_episodes=3)
    outcome = execute_run(spec, config, tmp_path, progress=False, runtime=Runtime("cpu", 1))
    manifest = json.loads((outcome.run_dir / "manifest.json").read_text())
    assert manifest["runtime"] == {"device": "cpu", "threads": 1, "precision": "fp32"}  # recorded
    traces = pd.read_csv(outcome.run_dir / "traces.csv")
    assert set(traces["env_steps"]) == {spec.eval_grid[-1]}
    assert len(traces) == 3 * 3 * 4 * 20  # splits x trials x episodes x horizon


@pytest.mark.metaworld
def test_ml45_evaluation_covers_every_class_and_names_it(tmp_path):
    """`run --method random --suite ml45 --profile smoke --eval-tasks 10`: every trial names its class, and
    the 10 trials of a split cover 10 training classes and all 5 test classes."""
    spec, config = resolve_run("random", "ml45", 0, "smoke", budget_env_steps=10, eval_tasks=10)
    outcome = execute_run(spec, config, tmp_path, progress=False)
    metrics = read_run_metrics(outcome.run_dir)
    final = metrics[metrics["env_steps"] == metrics["env_steps"].max()]
    classes = final.groupby("split")["task_name"].nunique()
    assert classes["meta_test"] == 5 and classes["meta_train"] == 10
    assert final["task_name"].str.endswith("-v3").all()
    assert (outcome.run_dir / "traces.csv").exists()


def test_a_registry_variant_is_a_method_with_its_overrides_in_the_run_spec():
    """Ablations are first-class grid entries (TrMRL with trial-scope memory)."""
    faithful, _ = resolve_run("trmrl", "point-nav", 0, "smoke")
    variant, config = resolve_run("trmrl-trial", "point-nav", 0, "smoke")
    assert config.memory_scope == "trial" and faithful.agent_config["memory_scope"] == "episode"
    assert variant.agent_config["memory_scope"] == "trial" and variant.method == "trmrl-trial"
    assert variant.run_id.startswith("trmrl-trial__") and variant.run_id != faithful.run_id
    assert registry.base_method("trmrl-trial") == "trmrl" and registry.base_method("pearl") == "pearl"
    assert "trmrl-trial" in registry.method_names() and "trmrl-trial" not in registry.method_names(False)
    with pytest.raises(BenchmarkError, match="unknown method 'nope'"):
        registry.base_method("nope")


@pytest.mark.parametrize("method", ["maml", "pearl", "rl2", "trmrl"])
def test_the_long_profile_runs_each_method_in_its_quick_configuration_at_1m_env_steps(method):
    """The long profile: the profile names the configuration tier, the harness passes it on."""
    from benchmark.profiles import get_profile

    long_spec, long_config = resolve_run(method=method, suite="halfcheetah-vel", seed=0, profile="long")
    _, quick_config = resolve_run(method=method, suite="halfcheetah-vel", seed=0, profile="quick")
    assert long_config == quick_config
    assert long_spec.budget_env_steps == 1_000_000 and len(long_spec.eval_grid) == 11
    assert method in get_profile("long").methods


def test_profiles_take_their_methods_from_the_registry_entries():
    """Each registry entry says which default grids it joins; a new entry joins smoke and quick only."""
    from benchmark.profiles import PROFILES

    for name, profile in PROFILES.items():
        assert profile.methods == tuple(m for m, e in registry.METHODS.items() if name in e.profiles)
    assert registry.MethodEntry("some.module:Agent", "a new method").profiles == ("smoke", "quick")
    assert "trmrl-trial" not in PROFILES["long"].methods  # the ablation is not in the longer runs


def test_a_profile_must_name_a_known_configuration_tier():
    from benchmark.profiles import MethodPlan, Profile

    with pytest.raises(ValueError, match="method_configs must be one of"):
        Profile("odd", "", ("random",), ("point-nav",), 1, {}, method_configs="huge")
    with pytest.raises(ValueError, match="random's config_tier must be one of"):
        plans = {"random": MethodPlan(config_tier="huge")}
        Profile("odd", "", ("random",), ("point-nav",), 1, {}, method_configs="quick", plans=plans)


def test_the_metaworld_profile_gives_each_method_its_own_budget_seeds_and_configuration_tier():
    """RL², MAML and random sample fast: 5M env steps x 5 seeds in the paper tier's configuration; TrMRL
    and PEARL 1M x 3 in the quick tier's (the paper's batches would leave them ~10 updates); each evaluated
    at 11 points over its own budget; --seeds and --budget still win."""
    from benchmark.profiles import get_profile
    from benchmark.sweep import build_grid

    profile = get_profile("metaworld")
    grid = build_grid("metaworld")
    seeds = {m: sorted(r.seed for r in grid if r.method == m) for m in profile.methods}
    assert seeds == {
        "random": [0, 1, 2, 3, 4],
        "rl2": [0, 1, 2, 3, 4],
        "trmrl": [0, 1, 2],
        "pearl": [0, 1, 2],
        "maml": [0, 1, 2, 3, 4],
    }
    assert {r.suite for r in grid} == {"ml1-reach"}
    for method, steps, tier in (
        ("rl2", 5_000_000, "paper"),
        ("maml", 5_000_000, "paper"),
        ("trmrl", 1_000_000, "quick"),
        ("pearl", 1_000_000, "quick"),
    ):
        assert profile.tier_of(method) == tier
        spec, config = resolve_run(method=method, suite="ml1-reach", seed=0, profile="metaworld")
        _, tier_config = resolve_run(method=method, suite="ml1-reach", seed=0, profile=tier)
        assert config == tier_config
        assert spec.budget_env_steps == steps and len(spec.eval_grid) == 11 and spec.eval_grid[-1] == steps
        assert (spec.eval.num_tasks, spec.eval.episodes) == (10, 10)
    assert {r.seed for r in build_grid("metaworld", seeds=2)} == {0, 1}
    assert {
        r.resolve()[0].budget_env_steps
        for r in build_grid("metaworld", methods=["trmrl", "rl2"], seeds=1, budget_env_steps=2_000)
    } == {2_000}
