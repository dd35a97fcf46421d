"""PEARL's gradient-step micro-benchmark (``python -m baselines.pearl.bench``; ``make bench`` runs it):

* **step**: the gradient steps of PEARL's halfcheetah-vel paper config (meta-batch 16 tasks x 256
  transitions, context 100 per task, 300 x 3 networks, a 200 x 3 encoder), as ``meta_train`` takes them
  (sampling from the replay buffers, one step, the statistics read once at the end), on buffers filled with
  synthetic transitions; at each precision (fp32, and bf16: ``--precision bf16``'s autocast), in seconds
  per step and in FLOP/s from the matrix products counted.

Each figure is the best of ``--repeats`` measurements; the section is added to the bench JSON.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from benchmark.bench import add_to_bench_json, method_bench_arguments
from benchmark.cost import E2E_SUITE
from benchmark.suites import make_suite

PRECISIONS = ("fp32", "bf16")
FILL = 1000
"""synthetic transitions per training task in each buffer"""


def mlp_flops(sizes: tuple[int, ...]) -> float:
    """Forward FLOPs of one row through linear layers of these widths (input first)."""
    return float(sum(2 * a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)))


def step_flops(config: Any, obs_dim: int, act_dim: int) -> float:
    """FLOPs of the matrix products of one gradient step: a forward counts once, a backward twice (input
    and weight gradients) or once (the frozen Q networks: input gradients only).

    Per RL row: forwards of the policy, Q1 and Q2, V, target V, and Q1 and Q2 again on the fresh action;
    backwards of Q1 and Q2 (Bellman loss), V, the policy, and the frozen Q1 and Q2 that the policy loss
    goes through. Per context row: the encoder's forward and backward.
    """
    z, hidden = config.latent_dim, tuple(config.hidden_sizes)
    q = mlp_flops((obs_dim + act_dim + z, *hidden, 1))
    v = mlp_flops((obs_dim + z, *hidden, 1))
    policy = mlp_flops((obs_dim + z, *hidden, 2 * act_dim))
    encoder = mlp_flops((obs_dim + act_dim + 1, *config.encoder_hidden_sizes, 2 * z))
    forward = policy + 2 * q + 2 * v + 2 * q
    backward = 2 * (2 * q + v + policy) + 2 * q
    rows = config.meta_batch * config.batch_size
    return rows * (forward + backward) + config.meta_batch * config.embedding_batch_size * 3 * encoder


def make_agent(precision: str) -> Any:
    """A PEARL agent (halfcheetah-vel paper config) whose buffers hold synthetic transitions."""
    from baselines.pearl.agent import PEARLAgent
    from benchmark.agent import EnvSpec, Runtime

    spec = EnvSpec.from_suite(make_suite(E2E_SUITE, seed=0))
    agent = PEARLAgent(
        PEARLAgent.default_config(E2E_SUITE, "paper"), spec, seed=0, runtime=Runtime(precision=precision)
    )
    rng = np.random.default_rng(0)
    agent.train_tasks = np.arange(agent.config.num_train_tasks)
    agent._make_buffers()
    o, a = spec.obs_dim, spec.act_dim
    assert agent.rl_buffer is not None and agent.encoder_buffer is not None
    for task in range(len(agent.train_tasks)):
        obs, action = rng.normal(size=(FILL, o)), rng.uniform(-1, 1, (FILL, a))
        reward = rng.normal(size=FILL)
        agent.rl_buffer.add(
            task, obs=obs, action=action, reward=reward, next_obs=rng.normal(size=(FILL, o)),
            terminal=np.zeros(FILL),
        )  # fmt: skip
        agent.encoder_buffer.add(task, obs=obs, action=action, reward=reward)
    return agent


def bench_step(steps: int, repeats: int) -> dict:
    """Seconds per gradient step at each precision (``meta_train``'s ``_train``: sampling included)."""
    figures: dict[str, Any] = {
        "config": "halfcheetah-vel paper (meta-batch 16 x 256, 300 x 3, encoder 200 x 3)"
    }
    for precision in PRECISIONS:
        agent = make_agent(precision)
        agent._train(1)  # warm-up: first-call allocations, the autocast weight casts' first time
        best = float("inf")
        for _ in range(max(repeats, 1)):
            start = time.perf_counter()
            agent._train(steps)
            best = min(best, (time.perf_counter() - start) / steps)
        flops = step_flops(agent.config, agent.spec.obs_dim, agent.spec.act_dim)
        figures[precision] = {"step_seconds": best, "flops_per_s": flops / best, "steps": steps}
    figures["bf16_speedup"] = figures["fp32"]["step_seconds"] / figures["bf16"]["step_seconds"]
    return figures


def print_report(figures: dict) -> None:
    s = figures["pearl_step"]
    rows = ", ".join(
        f"{p} {s[p]['step_seconds'] * 1e3:.0f} ms ({s[p]['flops_per_s'] / 1e9:.0f} GFLOP/s)"
        for p in PRECISIONS
    )
    print(f"PEARL gradient step ({s['config']}): {rows}; bf16 {s['bf16_speedup']:.2f}x fp32")


def main(argv: list[str] | None = None) -> int:
    args, repeats = method_bench_arguments(
        "python -m baselines.pearl.bench", __doc__.splitlines()[0], "the section", argv
    )
    figures = {"pearl_step": bench_step(steps=2 if args.quick else 20, repeats=repeats)}
    add_to_bench_json(figures, args)
    print_report(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
