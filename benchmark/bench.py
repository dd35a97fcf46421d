"""``make bench``: environment throughput of every suite, raw simulator next to the harness's trial path.

For each suite, with uniform random actions on one core:

* ``raw``: the suite's own environment (simulator + task reward) stepped in a bare loop, reset at the horizon;
* ``trial``: the same through :class:`~benchmark.trial.TrialEnv` in a :class:`~benchmark.trial.TrialBatch`
  (augmented observations, boundaries, step counting): the harness's overhead;
* ``agent``: the random agent's ``meta_train`` driven by a :class:`~benchmark.agent.TrainingContext`, the
  path a real run takes (4 trials stepped together).

Each figure is the best of ``--repeats`` alternating measurements (the least disturbed by other load on a
shared machine). Figures are printed, never asserted; ``--json`` also writes them to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

from benchmark.agent import EnvSpec, TrainingContext
from benchmark.suites import SUITES, make_suite
from benchmark.suites.base import META_TRAIN
from benchmark.trial import TrialBatch, make_trial_env


def _raw_steps_per_s(suite, steps: int) -> float:
    env = suite.make_env()
    rng = np.random.default_rng(0)
    action_space = env.action_space
    assert isinstance(action_space, gym.spaces.Box)
    low, high = action_space.low, action_space.high
    env.set_task(suite.tasks(META_TRAIN)[0])
    env.reset(seed=0)
    t = 0
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(rng.uniform(low, high).astype(np.float32))
        t += 1
        if terminated or truncated or t >= suite.horizon:
            env.reset()
            t = 0
    elapsed = time.perf_counter() - start
    env.close()
    return steps / elapsed


def _trial_steps_per_s(suite, steps: int) -> float:
    batch = TrialBatch([make_trial_env(suite, suite.tasks(META_TRAIN), seed=0)], autoreset=True)
    rng = np.random.default_rng(0)
    low, high = batch.envs[0].action_space.low, batch.envs[0].action_space.high
    batch.reset()
    start = time.perf_counter()
    for _ in range(steps):
        batch.step(rng.uniform(low, high, size=(1, low.shape[0])).astype(np.float32))
    elapsed = time.perf_counter() - start
    batch.envs[0].close()
    return steps / elapsed


def _agent_steps_per_s(suite, steps: int) -> float:
    from baselines.random.agent import RandomAgent, RandomConfig

    spec = EnvSpec.from_suite(suite)
    ctx = TrainingContext(suite, spec, seed=0, budget_env_steps=steps)
    agent = RandomAgent(RandomConfig(), spec, seed=0)
    start = time.perf_counter()
    for _ in agent.meta_train(ctx):
        pass
    return ctx.env_steps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--suites", nargs="+", default=list(SUITES), choices=list(SUITES), metavar="SUITE")
    parser.add_argument("--steps", type=int, default=5000, help="env steps per measurement (default 5000)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="measurements per figure, best kept (default 3)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    print(
        f"{'suite':16s} {'build s':>8s} {'raw steps/s':>12s} {'trial steps/s':>14s} {'agent steps/s':>14s} "
        f"{'overhead':>9s}"
    )
    figures = {}
    for name in args.suites:
        start = time.perf_counter()
        suite = make_suite(name, seed=0)
        build_s = time.perf_counter() - start
        raw = trial = agent = 0.0
        for _ in range(max(args.repeats, 1)):  # alternate, so slow phases of the machine hit all three
            raw = max(raw, _raw_steps_per_s(suite, args.steps))
            trial = max(trial, _trial_steps_per_s(suite, args.steps))
            agent = max(agent, _agent_steps_per_s(suite, args.steps))
        overhead = 1.0 - agent / raw
        figures[name] = {"build_s": build_s, "raw": raw, "trial": trial, "agent": agent}
        print(
            f"{name:16s} {build_s:8.2f} {raw:12.0f} {trial:14.0f} {agent:14.0f} {overhead:9.1%}", flush=True
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
