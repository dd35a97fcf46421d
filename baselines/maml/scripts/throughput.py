"""Meta-training throughput of MAML-TRPO: env steps per second of wall time, collection and update together.

OMP_NUM_THREADS=1 .venv/bin/python -m baselines.maml.scripts.throughput point-nav halfcheetah-vel ml1-push
"""

from __future__ import annotations

import argparse
import time

import torch

from baselines.maml.agent import MAMLAgent
from benchmark.agent import EnvSpec, TrainingContext
from benchmark.suites import make_suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suites", nargs="+")
    parser.add_argument("--profile", default="quick", help="whose configuration (meta-batch) to time")
    parser.add_argument("--iterations", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name in args.suites:
        suite = make_suite(name, 0)
        spec = EnvSpec.from_suite(suite)
        config = MAMLAgent.default_config(name, args.profile)
        agent = MAMLAgent(config, spec, 0)
        ctx = TrainingContext(suite, spec, 0, budget_env_steps=10**12)
        training = agent.meta_train(ctx)
        next(training)  # warm-up: first environment resets, lazy imports
        steps, started = ctx.env_steps, time.perf_counter()
        update_s = 0.0
        for _ in range(args.iterations):
            next(training)
            update_s += agent.last_stats["update_seconds"]
        wall = time.perf_counter() - started
        training.close()  # type: ignore[attr-defined]
        measured = ctx.env_steps - steps
        print(
            f"{name} ({args.profile}: {config.meta_batch_size} tasks x {config.rollouts_per_task} rollouts): "
            f"{measured} env steps in {wall:.1f} s = {measured / wall:.0f} env steps/s "
            f"(TRPO update {100 * update_s / wall:.0f}% of the time)",
            flush=True,
        )


if __name__ == "__main__":
    main()
