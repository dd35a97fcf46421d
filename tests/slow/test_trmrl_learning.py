"""TrMRL learns point-nav: after meta-training, its meta_test return beats the random agent and its own
untrained policy, with a 95% t-interval over seeds that excludes zero.

Runs through the harness (``resolve_run`` / ``execute_run``: the same code path as
``python -m benchmark run --method trmrl --suite point-nav --profile quick --budget 150000 --seed S``);
the random agent is measured with the same protocol, tasks and evaluation seed. Five seeds: with three,
the t-quantile (4.30) makes the interval too wide for the seed-to-seed spread in how far each run got.
About 9 minutes on one idle core (14 on the
shared 2-core machine). ``TRMRL_SLOW_RUNS_DIR`` keeps the runs somewhere other than a temporary
folder (finished runs there are reused); ``LEARNING_PRECISION=bf16`` trains with ``--precision bf16``
(bfloat16 autocast in the PPO updates).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from baselines.random.agent import RandomAgent, RandomConfig
from benchmark.agent import EnvSpec
from benchmark.protocol import evaluate
from benchmark.request import resolve_run
from benchmark.run import execute_run
from benchmark.suites import make_suite
from tests.learning import PRECISION, t_interval

SEEDS = (0, 1, 2, 3, 4)
BUDGET = 150_000
SUITE = "point-nav"
PROFILE = "quick"


def meta_test_return(metrics: pd.DataFrame, env_steps: int) -> float:
    rows = metrics[(metrics.split == "meta_test") & (metrics.metric == "return")]
    return float(rows[rows.env_steps == env_steps].value.mean())


@pytest.mark.slow
def test_trmrl_beats_random_and_its_untrained_policy_on_point_nav(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    runs_dir = Path(os.environ.get("TRMRL_SLOW_RUNS_DIR", tmp_path))
    trained, untrained, random = [], [], []
    for seed in SEEDS:
        spec, config = resolve_run(
            "trmrl", SUITE, seed, PROFILE, budget_env_steps=BUDGET, precision=PRECISION
        )
        outcome = execute_run(spec, config, runs_dir=runs_dir, progress=False)
        metrics = pd.read_csv(outcome.run_dir / "metrics.csv")
        trained.append(meta_test_return(metrics, int(metrics.env_steps.max())))
        untrained.append(meta_test_return(metrics, 0))
        suite = make_suite(SUITE, seed)
        agent = RandomAgent(RandomConfig(), EnvSpec.from_suite(suite), seed)
        results = evaluate(agent, suite, spec.eval, seed)
        random.append(float(np.mean([r.episode_return for r in results if r.split == "meta_test"])))
    trained_a, untrained_a, random_a = map(np.array, (trained, untrained, random))
    report = {"trained": trained_a, "untrained": untrained_a, "random": random_a}
    for name, baseline in (("random", random_a), ("untrained", untrained_a)):
        diffs = trained_a - baseline
        _, low, high = t_interval(diffs)
        per_seed = np.round(diffs, 3)
        print(
            f"trmrl ({PRECISION}) - {name}: per seed {per_seed}, mean {diffs.mean():.3f}, "
            f"95% CI [{low:.3f}, {high:.3f}]"
        )
        assert low > 0, f"TrMRL does not beat {name} reliably: {report}, CI [{low:.3f}, {high:.3f}]"
    print({k: np.round(v, 3).tolist() for k, v in report.items()})
