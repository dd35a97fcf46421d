"""RL² learns to adapt within a trial on point-nav: measured through the harness, over several seeds.

Two claims, each a 95% t-interval over seeds (one number per seed: the mean over the final evaluation's
meta_test tasks):

1. in-trial adaptation: the return of episode 2 minus that of episode 1 is positive (lower bound > 0);
2. learning: the trained agent's mean episode return minus the random agent's (same seeds, same protocol)
   is positive (lower bound > 0).

Run with ``make test-slow`` or ``pytest -m slow tests/slow/test_rl2_learning.py -s`` (prints the numbers).
About 2-3 minutes per seed on one CPU core.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from benchmark.request import resolve_run
from benchmark.results.store import METRICS_FILE
from benchmark.run import execute_run
from benchmark.suites.base import META_TEST
from tests.learning import t_interval

SEEDS = (0, 1, 2)
BUDGET_ENV_STEPS = 500_000
"""The quick profile's 1e5 is too few: RL² only starts to adapt after ~2-3e5 env steps on point-nav."""
PROFILE = "quick"  # its protocol: 20 tasks per split, 3 episodes per trial, deterministic actions


def final_meta_test(method: str, seed: int, budget: int, runs_dir: Path) -> pd.DataFrame:
    """The last evaluation point on meta_test: one row per (task, episode, metric)."""
    spec, config = resolve_run(method, "point-nav", seed, PROFILE, budget_env_steps=budget)
    outcome = execute_run(spec, config, runs_dir, progress=False)
    table = pd.read_csv(outcome.run_dir / METRICS_FILE)
    rows = table[table.split == META_TEST]
    return rows[rows.env_steps == rows.env_steps.max()]


@pytest.mark.slow
def test_rl2_adapts_within_a_trial_and_beats_random(tmp_path):
    torch.set_num_threads(1)
    gaps, advantages, report = [], [], []
    for seed in SEEDS:
        rl2_rows = final_meta_test("rl2", seed, BUDGET_ENV_STEPS, tmp_path)
        # The random agent ignores training; a small budget gives the same evaluation.
        rand = final_meta_test("random", seed, 1_000, tmp_path).query("metric == 'return'")["value"]
        rl2 = rl2_rows[rl2_rows.metric == "return"]
        by_episode = rl2.groupby("episode")["value"].mean()
        success = rl2_rows[rl2_rows.metric == "success"].groupby("episode")["value"].mean()
        gaps.append(by_episode[2] - by_episode[1])
        advantages.append(rl2["value"].mean() - rand.mean())
        report.append(
            f"seed {seed}: episode returns {', '.join(f'{v:.2f}' for v in by_episode)} "
            f"(success {', '.join(f'{v:.2f}' for v in success)}); ep2-ep1 {gaps[-1]:+.2f}; "
            f"rl2 {rl2['value'].mean():.2f} vs random {rand.mean():.2f}"
        )
    gap, advantage = t_interval(gaps), t_interval(advantages)
    report.append(f"ep2-ep1: mean {gap[0]:+.2f}, 95% CI [{gap[1]:+.2f}, {gap[2]:+.2f}]")
    report.append(f"rl2-random: mean {advantage[0]:+.2f}, 95% CI [{advantage[1]:+.2f}, {advantage[2]:+.2f}]")
    print("\n" + "\n".join(report))
    assert gap[1] > 0, "episode 2 does not reliably beat episode 1:\n" + "\n".join(report)
    assert advantage[1] > 0, "RL² does not reliably beat the random agent:\n" + "\n".join(report)
