"""TrMRL's micro-benchmarks (``python -m agents.trmrl.bench``; ``make bench`` runs it after the harness's):

* **update**: TrMRL's PPO update in its halfcheetah-vel paper config (d_model 128, 16 heads, 4 layers,
  window 5, minibatch 256), in FLOP/s from the FLOPs counted (last-layer shortcut included), against torch
  matmuls of the same shapes timed in the same run; target >= 80 %.
* **update_bf16**: the same update under ``--precision bf16`` (bfloat16 autocast in its forward passes and
  losses), in seconds and against the fp32 update.
* **acting**: TrMRL's batched forward over the meta-batch against the batch-1 forward the original used
  (one per sampler worker); target >= 3x.

Each figure is the best of ``--repeats`` measurements; the sections are added to the bench JSON.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from benchmark.bench import add_to_bench_json, method_bench_arguments
from benchmark.cost import E2E_SUITE
from benchmark.suites import make_suite

# ---- TrMRL update: FLOP/s against matmuls of the same shapes ------------------------------------------


def trmrl_forward_gemms(
    config: Any, token_dim: int, act_dim: int, batch: int
) -> list[tuple[int, int, int, int]]:
    """The forward's matrix products as ``(count, m, k, n)`` for ``batch`` windows (last-layer shortcut)."""
    L, d, ff, h = config.wm_size, config.d_model, config.dim_ff, config.n_heads
    dh = d // h
    gemms = [(1, batch * L, token_dim, d)]  # embedding
    for _ in range(config.n_layers - 1):
        gemms += [
            (1, batch * L, d, 3 * d),  # in_proj (Q, K, V)
            (batch * h, L, dh, L),  # Q K^T
            (batch * h, L, L, dh),  # softmax(.) V
            (1, batch * L, d, d),  # out_proj
            (1, batch * L, d, ff),
            (1, batch * L, ff, d),
        ]
    gemms += [  # the last layer at the latest slot only
        (1, batch, d, d),
        (1, batch * L, d, 2 * d),
        (batch * h, 1, dh, L),
        (batch * h, 1, L, dh),
        (1, batch, d, d),
        (1, batch, d, ff),
        (1, batch, ff, d),
    ]
    sizes = (d, *config.policy_hidden_sizes, act_dim)
    gemms += [(1, batch, a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    return gemms


def gemm_flops(gemms: list[tuple[int, int, int, int]]) -> float:
    return float(sum(2 * c * m * k * n for c, m, k, n in gemms))


def matmul_flops_per_s(gemms: list[tuple[int, int, int, int]], seconds: float) -> float:
    """torch matmuls of the forward shapes and their two backward products, repeated for ``seconds``."""
    import torch

    def operands(c: int, m: int, k: int, n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        shapes = [((m, k), (k, n)), ((m, n), (n, k)), ((k, m), (m, n))]  # forward, grad input, grad weight
        return [(torch.randn(c, *a).squeeze(0), torch.randn(c, *b).squeeze(0)) for a, b in shapes]

    pairs = [p for g in gemms for p in operands(*g)]
    flops = 3 * gemm_flops(gemms)
    rounds, start = 0, time.perf_counter()
    while True:
        for a, b in pairs:
            torch.matmul(a, b)
        rounds += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return rounds * flops / elapsed


def attention_seconds(config: Any, batch: int, repeats: int) -> tuple[float, float]:
    """Forward + backward of one minibatch's attention: the kernel the layers call, and its matmuls.

    The first figure is ``scaled_dot_product_attention`` as the layers call it (``is_causal``; the last
    layer a boolean key mask) on the update's shapes: ``n_layers - 1`` full causal layers and the last
    layer's single query, each with its gradient. The second is the time torch matmuls of the same
    products take (forward and the two backward products, the rate measured here), so their difference is
    the time the attention kernel costs beyond its FLOPs, the one part of the update that a matmul
    reference does not capture.
    """
    import torch
    import torch.nn.functional as F

    L, d, h = config.wm_size, config.d_model, config.n_heads
    dh = d // h

    def operands(queries: int) -> list[torch.Tensor]:
        shapes = [(batch, h, queries, dh), (batch, h, L, dh), (batch, h, L, dh)]
        return [torch.randn(*s, requires_grad=True) for s in shapes]

    layers: list[tuple[list[torch.Tensor], torch.Tensor | None]]
    layers = [(operands(L), None) for _ in range(config.n_layers - 1)]  # None: is_causal
    layers.append((operands(1), torch.ones(batch, 1, 1, L, dtype=torch.bool)))
    grads = [torch.randn(q.shape) for (q, _, _), _ in layers]
    kernel = float("inf")
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        for ((q, k, v), mask), grad in zip(layers, grads, strict=True):
            if mask is None:
                out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            torch.autograd.grad(out, (q, k, v), grad)
        kernel = min(kernel, time.perf_counter() - start)
    products = [g for g in trmrl_forward_gemms(config, 1, 1, batch) if g[0] > 1]  # the batched (b*h) ones
    rate = max(matmul_flops_per_s(products, 0.2) for _ in range(max(repeats, 1)))
    return kernel, 3 * gemm_flops(products) / rate


def update_setup(samples: int, epochs: int | None, precision: str = "fp32") -> tuple[Any, Any, Any, Any]:
    """A TrMRL agent of the halfcheetah-vel paper config at ``precision``, ``samples`` synthetic samples,
    the config and the env spec; ``epochs`` overrides the config's ``opt_epochs`` (``None`` keeps them)."""
    import torch

    from agents.trmrl.agent import TrMRLAgent
    from agents.trmrl.ppo import Batch
    from benchmark.agent import EnvSpec, Runtime

    spec = EnvSpec.from_suite(make_suite(E2E_SUITE, seed=0))
    paper = TrMRLAgent.default_config(E2E_SUITE, "paper")
    config = dataclasses.replace(paper, opt_epochs=paper.opt_epochs if epochs is None else epochs)
    agent = TrMRLAgent(config, spec, seed=0, runtime=Runtime(precision=precision))
    token_dim = spec.aug_obs_dim
    generator = torch.Generator().manual_seed(0)
    index = torch.randint(0, config.wm_size, (samples,), generator=generator)
    windows = torch.randn(samples, config.wm_size, token_dim, generator=generator)
    batch = Batch(
        windows=windows,
        index=index,
        tokens=windows[torch.arange(samples), index],
        actions=torch.randn(samples, spec.act_dim, generator=generator),
        rewards=np.random.default_rng(0).normal(size=samples),
        trial_lengths=[samples],
    )
    return agent, batch, config, spec


def time_update(agent: Any, batch: Any, repeats: int) -> float:
    """The best of ``repeats`` updates, in seconds (every one from the agent's state after the last)."""
    best = float("inf")
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        agent.learner(batch, np.random.default_rng(0))
        best = min(best, time.perf_counter() - start)
    return best


def bench_update_bf16(samples: int, epochs: int | None, repeats: int, fp32_seconds: float) -> dict:
    """The update of :func:`bench_update` under ``--precision bf16``, against the fp32 update's time."""
    agent, batch, config, _ = update_setup(samples, epochs, "bf16")
    best = time_update(agent, batch, repeats)
    return {
        "samples": samples,
        "epochs": config.opt_epochs,
        "update_seconds": best,
        "speedup_vs_fp32": fp32_seconds / best,
    }


def bench_update(samples: int, epochs: int | None, repeats: int) -> dict:
    """One PPO update of the halfcheetah-vel paper config on ``samples`` synthetic samples.

    ``epochs`` overrides the config's ``opt_epochs`` (``None`` keeps them).

    Besides the ratio to the matmul reference, the attention kernel's time beyond its matmuls is measured
    (:func:`attention_seconds`), and the ratio is also given without it: what the rest of the update
    reaches, so a reader sees where the gap to the reference lies.
    """
    from agents.trmrl.agent import TrMRLAgent

    agent, batch, config, spec = update_setup(samples, epochs)
    paper = TrMRLAgent.default_config(E2E_SUITE, "paper")
    epochs = config.opt_epochs
    token_dim = spec.aug_obs_dim
    forward = gemm_flops(trmrl_forward_gemms(config, token_dim, spec.act_dim, 1))
    value_sizes = (token_dim, *config.value_hidden_sizes, 1)
    value = float(sum(2 * a * b for a, b in zip(value_sizes[:-1], value_sizes[1:], strict=True)))
    # No-grad forwards of every sample, then epochs of forward + backward (3x) for policy and value.
    flops = samples * ((forward + value) + 3 * epochs * (forward + value))
    best = time_update(agent, batch, repeats)
    update_rate = flops / best
    minibatch = trmrl_forward_gemms(config, token_dim, spec.act_dim, config.minibatch_size)
    reference = max(matmul_flops_per_s(minibatch, 1.0) for _ in range(max(repeats, 1)))
    kernel, products = attention_seconds(config, config.minibatch_size, repeats)
    # Policy minibatches only: this config's value function is an MLP on the token (no attention), and
    # the no-grad forward over all samples is left in, so the figure without the excess is conservative.
    policy_steps = epochs * -(-samples // config.minibatch_size)
    excess = policy_steps * max(kernel - products, 0.0)
    return {
        "config": "halfcheetah-vel paper (d_model 128, 16 heads, 4 layers, window 5, minibatch 256)",
        "samples": samples,
        "epochs": epochs,
        "forward_flops_per_sample": forward,
        "update_seconds": best,
        "update_flops_per_s": update_rate,
        "matmul_flops_per_s": reference,
        "ratio": update_rate / reference,
        "attention_kernel_s": kernel,
        "attention_matmuls_s": products,
        "attention_excess_share": excess / best,
        "ratio_without_attention_excess": flops / (best - excess) / reference,
        "paper_iteration_seconds_estimate": best
        * (paper.meta_batch_size * paper.episodes_per_trial * spec.horizon / samples)
        * (1 + 3 * paper.opt_epochs)
        / (1 + 3 * epochs),
    }


def bench_acting(calls: int, repeats: int) -> dict:
    """Batched acting over the meta-batch against one batch-1 forward per trial (the original's workers)."""
    import torch

    from agents.trmrl.agent import TrMRLAgent
    from benchmark.agent import EnvSpec

    spec = EnvSpec.from_suite(make_suite(E2E_SUITE, seed=0))
    config = TrMRLAgent.default_config(E2E_SUITE, "paper")
    agent = TrMRLAgent(config, spec, seed=0)
    n = config.meta_batch_size
    windows = torch.randn(n, config.wm_size, spec.aug_obs_dim)
    index = torch.full((n,), config.wm_size - 1, dtype=torch.int64)

    def per_step(rows: int) -> float:
        best = float("inf")
        with torch.no_grad():
            for _ in range(max(repeats, 1)):
                start = time.perf_counter()
                for _ in range(calls):
                    for r in range(0, n, rows):
                        agent.policy(windows[r : r + rows], index[r : r + rows])
                best = min(best, (time.perf_counter() - start) / calls)
        return best

    batched, single = per_step(n), per_step(1)
    return {"meta_batch": n, "batched_s": batched, "batch1_s": single, "speedup": single / batched}


def print_report(figures: dict) -> None:
    u = figures["update"]
    print(
        f"TrMRL update: {u['update_flops_per_s'] / 1e9:.1f} GFLOP/s vs matmul "
        f"{u['matmul_flops_per_s'] / 1e9:.1f}"
        f" GFLOP/s of the same shapes = {u['ratio']:.0%} (target >= 80%); a paper iteration's update "
        f"~{u['paper_iteration_seconds_estimate']:.0f} s ({u['samples']} samples, {u['epochs']} epochs)"
    )
    print(
        f"  attention per minibatch (fwd+bwd): kernel {u['attention_kernel_s'] * 1e3:.1f} ms vs its matmuls "
        f"{u['attention_matmuls_s'] * 1e3:.1f} ms; the excess is {u['attention_excess_share']:.0%} of the "
        f"update, which without it reaches {u['ratio_without_attention_excess']:.0%}"
    )
    b = figures["update_bf16"]
    print(
        f"TrMRL update under --precision bf16: {b['update_seconds']:.2f} s vs fp32 "
        f"{u['update_seconds']:.2f} s = {b['speedup_vs_fp32']:.2f}x"
    )
    a = figures["acting"]
    print(
        f"TrMRL acting: meta-batch {a['meta_batch']} batched {a['batched_s'] * 1e3:.2f} ms vs batch-1 "
        f"{a['batch1_s'] * 1e3:.2f} ms per step = {a['speedup']:.1f}x (target >= 3x)"
    )


def main(argv: list[str] | None = None) -> int:
    args, repeats = method_bench_arguments(
        "python -m agents.trmrl.bench", __doc__.splitlines()[0], "both sections", argv
    )
    quick = args.quick
    # The paper config's own epochs (10): one epoch would weigh the no-grad forward over all samples at a
    # quarter of the FLOPs instead of 1/31.
    samples, epochs = (512, 1) if quick else (2048, None)
    update = bench_update(samples=samples, epochs=epochs, repeats=repeats)
    figures: dict[str, Any] = {
        "update": update,
        "update_bf16": bench_update_bf16(samples, epochs, repeats, update["update_seconds"]),
        "acting": bench_acting(calls=5 if quick else 50, repeats=repeats),
    }
    add_to_bench_json(figures, args)
    print_report(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
