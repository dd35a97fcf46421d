"""Measure the random policy's score on every suite's meta_test split: the 0 of ``analysis/references.csv``.

Plays the harness's own :class:`baselines.random.agent.RandomAgent` (uniform actions in the action box)
through
the shared evaluation protocol (:func:`benchmark.protocol.evaluate`), one trial of one episode per task, on
``--tasks`` meta_test tasks of each of ``--seeds`` suite seeds, and prints one CSV row per suite: the mean
score (return, or success in percent on Meta-World), its standard error over episodes, and the counts.

    OMP_NUM_THREADS=1 .venv/bin/python -m analysis.scripts.random_references --seeds 0 1 2 --tasks 40

This script needs the simulators (MuJoCo, Meta-World); the analysis itself never imports it.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from baselines.random.agent import RandomAgent
from benchmark.agent import EnvSpec
from benchmark.protocol import EvalSettings, evaluate
from benchmark.suites import SUITES, make_suite


def measure(suite_name: str, seeds: list[int], num_tasks: int) -> dict[str, object]:
    """Mean random-policy score of ``suite_name`` on meta_test, over ``num_tasks`` tasks per seed."""
    entry = SUITES[suite_name]
    scores: list[float] = []
    for seed in seeds:
        suite = make_suite(suite_name, seed)
        agent = RandomAgent(RandomAgent.default_config(suite_name, "quick"), EnvSpec.from_suite(suite), seed)
        settings = EvalSettings(num_tasks=num_tasks, episodes=1, splits=("meta_test",), traces="none")
        for result in evaluate(agent, suite, settings, seed):
            if entry.score_metric == "success":
                scores.append(100.0 * float(result.success or 0.0))
            else:
                scores.append(result.episode_return)
    values = np.asarray(scores)
    return {
        "suite": suite_name,
        "metric": entry.score_metric,
        "mean": float(values.mean()),
        "sem": float(values.std(ddof=1) / np.sqrt(values.size)),
        "episodes": int(values.size),
        "successes": int(round(values.sum() / 100.0)) if entry.score_metric == "success" else "",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", nargs="+", default=list(SUITES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--tasks", type=int, default=40, help="meta_test tasks per seed")
    args = parser.parse_args(argv)
    print("suite,metric,mean,sem,episodes,successes,seconds", flush=True)
    for name in args.suites:
        start = time.perf_counter()
        row = measure(name, args.seeds, args.tasks)
        values = ",".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in row.values())
        print(f"{values},{time.perf_counter() - start:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
