"""Train PEARL on halfcheetah-vel for one seed and write its learning curve (meta_test return vs env steps).

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python -m baselines.pearl.scripts.halfcheetah_vel --seed 0 \\
        --budget 500000 --profile quick --out results/pearl-hcv

Evaluates at env_steps 0 and then every ``--eval-every`` env steps with the shared protocol (``--eval-tasks``
meta_test tasks, trials of ``exploration + 1`` episodes: oyster's 2 exploration episodes on z ~ prior, then
one on the posterior with mean actions) and writes ``curve_seed<S>.csv`` plus ``summary_seed<S>.json``
(env steps, wall time, env steps/s, gradient steps/s, peak memory, buffer bytes).
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch

from baselines.pearl.agent import PEARLAgent
from benchmark.agent import EnvSpec, TrainingContext
from benchmark.protocol import EvalSettings, evaluate
from benchmark.suites import make_suite

SUITE = "halfcheetah-vel"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=500_000, help="training env steps")
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    parser.add_argument("--eval-every", type=int, default=50_000)
    parser.add_argument("--eval-tasks", type=int, default=10)
    parser.add_argument("--max-minutes", type=float, default=float("inf"), help="stop training after this")
    parser.add_argument("--out", type=Path, default=Path("results/pearl-halfcheetah-vel"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)

    suite = make_suite(SUITE, args.seed)
    spec = EnvSpec.from_suite(suite)
    agent = PEARLAgent(PEARLAgent.default_config(SUITE, args.profile), spec, args.seed)
    exploration = PEARLAgent.default_exploration_episodes(SUITE)
    settings = EvalSettings(
        num_tasks=args.eval_tasks,
        episodes=exploration + 1,
        splits=("meta_test",),
        exploration_episodes=exploration,
    )

    rows: list[dict[str, float]] = []

    def record(env_steps: int, train_wall: float) -> None:
        results = evaluate(agent, suite, settings, seed=args.seed)
        prior = np.mean([r.episode_return for r in results if r.episode <= exploration])
        posterior = np.mean([r.episode_return for r in results if r.episode > exploration])
        rows.append(
            {
                "env_steps": env_steps,
                "train_wall_s": round(train_wall, 1),
                "gradient_steps": agent.train_steps,
                "prior_return": float(prior),
                "posterior_return": float(posterior),
            }
        )
        print(rows[-1], agent.last_stats, flush=True)

    ctx = TrainingContext(suite, spec, args.seed, budget_env_steps=args.budget)
    record(0, 0.0)
    train_wall, next_eval = 0.0, args.eval_every
    training = agent.meta_train(ctx)
    start = time.perf_counter()
    while not ctx.budget_exhausted and train_wall < 60 * args.max_minutes:
        next(training)
        train_wall = time.perf_counter() - start
        if ctx.env_steps >= next_eval or ctx.budget_exhausted:
            record(ctx.env_steps, train_wall)
            next_eval = (ctx.env_steps // args.eval_every + 1) * args.eval_every
            start = time.perf_counter() - train_wall  # evaluation time is not training time
    training.close()  # type: ignore[attr-defined]
    if rows[-1]["env_steps"] != ctx.env_steps:
        record(ctx.env_steps, train_wall)

    with open(args.out / f"curve_seed{args.seed}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert agent.rl_buffer is not None and agent.encoder_buffer is not None
    summary = {
        "seed": args.seed,
        "profile": args.profile,
        "env_steps": ctx.env_steps,
        "gradient_steps": agent.train_steps,
        "iterations": agent.iteration,
        "train_wall_s": round(train_wall, 1),
        "env_steps_per_s": round(ctx.env_steps / train_wall, 1),
        "gradient_steps_per_s": round(agent.train_steps / train_wall, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rl_buffer_mib": round(agent.rl_buffer.nbytes / 2**20, 1),
        "encoder_buffer_mib": round(agent.encoder_buffer.nbytes / 2**20, 1),
        "final_posterior_return": rows[-1]["posterior_return"],
        "final_prior_return": rows[-1]["prior_return"],
    }
    (args.out / f"summary_seed{args.seed}.json").write_text(json.dumps(summary, indent=2))
    print(summary)


if __name__ == "__main__":
    main()
