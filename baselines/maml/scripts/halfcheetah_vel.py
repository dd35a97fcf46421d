"""MAML-TRPO on halfcheetah-vel for a few dozen meta-iterations: the learning curve, env steps and wall time.

ProMP's configuration except the meta-batch (its 40 tasks x 20 rollouts are 320k env steps per iteration at
our horizon 200; the defaults here, 10 x 5, are 20k). Prints one line per iteration and the meta_test return
of the pre- and post-adaptation episodes before and after training; ``--csv`` writes the curve.

    OMP_NUM_THREADS=1 .venv/bin/python -m baselines.maml.scripts.halfcheetah_vel --seeds 0 1 2 --iterations 20
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import time

import numpy as np
import torch

from baselines.maml.agent import MAMLAgent
from benchmark.agent import EnvSpec, TrainingContext
from benchmark.protocol import EvalSettings, evaluate
from benchmark.suites import make_suite

SUITE = "halfcheetah-vel"
SETTINGS = EvalSettings(num_tasks=10, episodes=2, splits=("meta_test",), exploration_episodes=1)


def pre_post(agent: MAMLAgent, suite, seed: int) -> tuple[float, float]:
    """Mean meta_test return of the exploration episode (pre-update) and the adapted one (post-update)."""
    results = evaluate(agent, suite, SETTINGS, seed)
    return tuple(  # type: ignore[return-value]
        float(np.mean([r.episode_return for r in results if r.episode == e])) for e in (1, 2)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--meta-batch", type=int, default=10)
    parser.add_argument("--rollouts", type=int, default=5)
    parser.add_argument("--csv", default=None, help="write the per-iteration curve here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for seed in args.seeds:
        suite = make_suite(SUITE, seed)
        spec = EnvSpec.from_suite(suite)
        config = dataclasses.replace(
            MAMLAgent.default_config(SUITE, "paper"),
            meta_batch_size=args.meta_batch,
            rollouts_per_task=args.rollouts,
        )
        agent = MAMLAgent(config, spec, seed)
        before = pre_post(agent, suite, seed)
        ctx = TrainingContext(suite, spec, seed, budget_env_steps=10**12)
        training = agent.meta_train(ctx)
        started = time.perf_counter()
        for iteration in range(1, args.iterations + 1):
            next(training)
            stats = agent.last_stats
            row = {
                "seed": seed,
                "iteration": iteration,
                "env_steps": ctx.env_steps,
                "wall_s": round(time.perf_counter() - started, 1),
                "pre_update_return": round(stats["pre_update_return"], 2),
                "post_update_return": round(stats["post_update_return"], 2),
                "kl": round(stats["kl"], 4),
                "step_accepted": int(stats["step_accepted"]),
            }
            rows.append(row)
            print(row, flush=True)
        training.close()  # type: ignore[attr-defined]
        wall = time.perf_counter() - started
        after = pre_post(agent, suite, seed)
        print(
            f"seed {seed}: {ctx.env_steps} env steps in {wall:.0f} s "
            f"({ctx.env_steps / wall:.0f} env steps/s); "
            f"meta_test pre/post before training {before[0]:.1f}/{before[1]:.1f}, "
            f"after {after[0]:.1f}/{after[1]:.1f}",
            flush=True,
        )
    if args.csv:
        with open(args.csv, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
