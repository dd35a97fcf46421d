"""The cost model (benchmark/cost.py and each method's cost module): prices follow the configuration, every
registered (method, suite, tier) has one, and the CLI, the profiles and the README print the same estimate.

No timing is asserted: the rates here are fixed numbers, not measurements.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark import cli, cost
from benchmark.config import apply_overrides, config_to_dict
from benchmark.profiles import CONFIG_TIERS, PROFILES, get_profile
from benchmark.protocol import EvalSettings
from benchmark.registry import METHODS
from benchmark.request import RunRequest
from benchmark.suites import SUITES

ROOT = Path(__file__).resolve().parents[2]

LAYER = {"layer_s": 1e-5, "element_s": 2e-10, "mac_s": 1e-11, "param_s": 1e-10}
FIGURES = {
    "machine": {"cpu": "test"},
    "compute": {
        "op_s": 2e-6,
        "forward": LAYER,
        "train": {k: 5 * v for k, v in LAYER.items()},
        "attention": {
            "length": 5,
            "queries": 5,
            "head_dim": 8,
            "forward_call_s": 5e-6,
            "forward_window_s": 1e-6,
            "train_call_s": 5e-5,
            "train_window_s": 3e-6,
        },
        "lstm": {"forward_step_s": 3e-6, "train_step_s": 1e-5},
    },
    "suites": {
        "point-nav": {"harness": 50_000.0, "reset_s": 2e-5, "build_s": 0.0},
        "halfcheetah-vel": {"harness": 20_000.0, "reset_s": 4e-5, "build_s": 0.05},
        "ml1-push": {"harness": 1_000.0, "reset_s": 0.01, "build_s": 0.3},
    },
}
RATES = cost.MachineRates.of(FIGURES, "test")


def run_of(method: str, suite: str, tier: str = "paper", budget: int = 100_000, **changes) -> cost.PricedRun:
    """A run of ``method``'s ``tier`` config on ``suite`` with ``changes``, priced without torch."""
    config = cost.method_cost(method).default_config(suite, tier)
    config = apply_overrides(config, list(METHODS[method].overrides))
    config = dataclasses.replace(config, **changes)
    settings = EvalSettings(num_tasks=4, episodes=2, exploration_episodes=1)
    return cost.PricedRun(method, suite, budget, (0, budget), settings, config_to_dict(config))


def seconds(run: cost.PricedRun) -> float:
    return cost.price(run, RATES).seconds


@pytest.mark.parametrize(
    ("method", "suite", "knob", "small", "large"),
    [
        # more gradient steps per env step
        ("pearl", "halfcheetah-vel", "num_train_steps_per_itr", 100, 400),
        ("trmrl", "halfcheetah-vel", "opt_epochs", 2, 10),
        ("rl2", "point-nav", "n_epochs", 2, 10),
        ("maml", "halfcheetah-vel", "cg_iters", 2, 10),
        # bigger networks
        ("pearl", "point-nav", "hidden_sizes", (64, 64), (256, 256, 256)),
        ("trmrl", "halfcheetah-vel", "d_model", 32, 128),
        ("trmrl", "ml1-push", "n_layers", 1, 4),
        ("rl2", "halfcheetah-vel", "lstm_hidden_size", 32, 256),
        ("maml", "halfcheetah-vel", "hidden_sizes", (32, 32), (128, 128)),
    ],
)
def test_more_gradient_steps_and_bigger_networks_cost_more(method, suite, knob, small, large):
    assert seconds(run_of(method, suite, **{knob: small})) < seconds(run_of(method, suite, **{knob: large}))


@pytest.mark.parametrize("method", sorted(METHODS))
def test_a_larger_budget_costs_more(method):
    short, long = (
        run_of(method, "halfcheetah-vel", budget=100_000),
        run_of(method, "halfcheetah-vel", budget=10**6),
    )
    assert cost.price(short, RATES).train_s < cost.price(long, RATES).train_s


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_registered_method_suite_and_tier_has_a_finite_positive_price(method):
    assert METHODS[method].cost_module(), f"{method} has no cost module (cost.py beside its agent)"
    for suite in SUITES:
        for tier in CONFIG_TIERS:
            priced = cost.price(run_of(method, suite, tier), RATES)
            assert math.isfinite(priced.seconds) and priced.train_s > 0 and priced.eval_s > 0, (suite, tier)


def test_quick_pearl_on_point_nav_is_priced_far_below_its_paper_halfcheetah_config():
    """The old model priced every PEARL suite at halfcheetah-vel's paper rate."""

    def per_step(run: cost.PricedRun) -> float:
        priced = cost.price(run, RATES)
        return priced.train_s / priced.work.train_env_steps

    quick = per_step(run_of("pearl", "point-nav", "quick", budget=100_000))
    paper = per_step(run_of("pearl", "halfcheetah-vel", "paper", budget=10**6))
    assert quick < paper / 10


def test_evaluations_follow_the_iterations_that_cross_the_grid():
    """MAML's quick ML45 iteration (45,000 steps) crosses 10k and 20k at once: 0 and then one evaluation."""
    assert cost.evaluation_points((0, 10_000, 20_000), 0, 45_000, 1) == 2
    assert cost.evaluation_points((0, 10_000, 20_000), 0, 5_000, 4) == 3
    assert cost.evaluation_points((0, 100_000), 4_000, 2_000, 48) == 2  # PEARL: the initial pool first


def test_work_counts_dense_flops():
    layer = cost.mlp(10, (3, 4, 5), times=2)
    work = cost.Work(forward=(layer,), train=(layer,))
    assert layer.flops() == 2 * 2 * 10 * (3 * 4 + 4 * 5)
    assert work.flops() == 4 * layer.flops() and work.times(3).flops() == 3 * work.flops()


def test_profile_runs_equal_what_a_sweep_resolves():
    """``benchmark list`` prices the grid without torch; it must be the grid ``sweep`` resolves."""
    for profile in ("quick", "metaworld", "paper"):
        chosen = get_profile(profile)
        runs = cost.profile_runs(profile, seeds=1)
        requests = [RunRequest(m, s, 0, profile) for s in chosen.suites for m in chosen.methods]
        assert len(runs) == len(requests)
        for run, request in zip(runs, requests, strict=True):
            assert run == cost.PricedRun.of(request.resolve()[0]), (run.method, run.suite)
    seeds = {
        m: cost.profile_runs("metaworld").count(r)
        for m, r in zip(
            get_profile("metaworld").methods, cost.profile_runs("metaworld", seeds=1), strict=True
        )
    }
    assert seeds == {"random": 5, "rl2": 5, "trmrl": 3, "pearl": 3, "maml": 5}


def test_the_cost_model_and_the_method_cost_modules_import_no_torch():
    code = (
        "import sys; from benchmark import cost; "
        "[cost.price(r, cost.MachineRates.load()) for r in cost.profile_runs('paper', seeds=1)]; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_committed_bench_figures_price_the_paper_grid_above_the_confirmation_threshold():
    rates = cost.MachineRates.load()
    assert cost.estimate(cost.profile_runs("paper"), rates=rates).cpu_hours > cost.CONFIRM_CPU_HOURS
    assert cost.estimate(cost.profile_runs("quick"), rates=rates).cpu_hours < cost.CONFIRM_CPU_HOURS


def test_figures_without_rates_are_refused(tmp_path):
    old = tmp_path / "bench.json"
    old.write_text(json.dumps({"suites": {}, "e2e": {}}))
    with pytest.raises(ValueError, match="compute"):
        cost.estimate([], old)
    assert cost.profile_estimate("quick", old) is None and cost.describe_profile_cost("quick", 2, old) == ""


def test_the_paper_sweep_is_refused_without_yes(tmp_path, capsys):
    runs = tmp_path / "runs"
    status = cli.main(["sweep", "--profile", "paper", "--runs-dir", str(runs)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "--yes" in err[0] and "CPU-hours" in err[0], err
    assert not runs.exists()
    assert cli.main(["sweep", "--profile", "paper", "--dry-run"]) == 0  # a dry run never needs it
    assert "CPU-hours" in capsys.readouterr().out


def test_list_eta_and_readme_quote_the_same_estimate(capsys):
    assert cli.main(["list", "profiles"]) == 0
    listing = capsys.readouterr().out
    readme = (ROOT / "README.md").read_text()
    for profile in PROFILES:
        quoted = cost.describe_profile_cost(profile)
        assert quoted and quoted in listing, profile
        if profile != "smoke":
            assert quoted in readme, f"README does not quote `{quoted}` for {profile}"
    assert cli.main(["sweep", "--profile", "quick", "--dry-run", "--workers", "2"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"estimated on this machine: {cost.describe_profile_cost('quick')}"
    assert re.search(r"~[\d.,]+ CPU-hours", last)


def test_the_estimate_table_prints_the_iterations_each_runs_budget_buys():
    """The updates a budget buys show before a run: in the metaworld profile the paper configurations
    would leave TrMRL 8 PPO iterations in 1M env steps (25 trials x 10 episodes x 500 steps each); its
    quick configuration's 2 trials give 100, and RL²'s paper batch 40 in 5M."""
    table = cost.estimate(cost.profile_runs("metaworld", seeds=1)).table().splitlines()
    assert "iters/run" in table[0].split()
    iterations = {line.split()[0]: int(line.split()[4].replace(",", "")) for line in table[1:-1]}
    assert iterations == {"maml": 20, "pearl": 199, "random": 2500, "rl2": 40, "trmrl": 100}
    trmrl = cost.method_cost("trmrl")
    config = dataclasses.asdict(trmrl.default_config("ml1-reach", "paper"))
    per_iteration = trmrl.training(config, cost.SuiteShape.of("ml1-reach")).iteration.env_steps
    assert math.ceil(1_000_000 / per_iteration) == 8
