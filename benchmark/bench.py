"""``make bench``: where a run's time goes, measured in one run on one machine (issue #13).

Sections (each figure printed; ratios where a ratio is the claim; nothing here is a test assertion):

* **suites**: per suite, the bare simulator (the suite's env in a bare loop, random actions) next to the
  harness's sampling path (:class:`~benchmark.trial.TrialBatch` of trial envs); target >= 0.9x. For
  halfcheetah-vel also the same batch stepped by ``N`` subprocess env workers (``env_workers``).
* **update**: TrMRL's PPO update in its halfcheetah-vel paper config (d_model 128, 16 heads, 4 layers,
  window 5, minibatch 256), in FLOP/s from the FLOPs counted (last-layer shortcut included), against torch
  matmuls of the same shapes timed in the same run; target >= 80 %.
* **acting**: TrMRL's batched forward over the meta-batch against the batch-1 forward the original used
  (one per sampler worker); target >= 3x.
* **e2e**: meta-training env steps/s of every method in its paper config on halfcheetah-vel for one
  iteration (each in its own process, which also gives its peak memory).
* **seeds**: N runs at once on N cores against one alone (``N = os.cpu_count()``); target >= 0.8 N.
* **cost**: the ``paper`` profile's estimated CPU-hours (:func:`estimate_cost`), from the e2e figures.

Each throughput figure is the best of ``--repeats`` measurements (the least disturbed by other load). The
JSON records the machine and its load average, so a reader can judge the figures. ``--quick`` is a
sub-minute smoke run of every section (smoke configs, tiny budgets); its figures mean little.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from benchmark.suites import SUITES, make_suite
from benchmark.suites.base import META_TRAIN

DEFAULT_JSON = Path(__file__).resolve().parents[1] / "results" / "bench" / "bench.json"
E2E_SUITE = "halfcheetah-vel"
E2E_METHODS = ("trmrl", "rl2", "maml", "pearl", "random")
DEFAULT_SUITES = ("point-nav", "halfcheetah-vel", "ant-dir", "ml1-push")


# ---- suites: simulator against the harness's sampling path ----------------------------------------------


def raw_steps_per_s(suite: Any, steps: int) -> float:
    """The suite's own env in a bare loop with uniform random actions, reset at the horizon."""
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


def batch_steps_per_s(suite: Any, steps: int, rows: int, env_workers: int = 1) -> float:
    """A training context's autoreset batch of ``rows`` trial envs (the path agents take)."""
    from benchmark.agent import EnvSpec, TrainingContext

    spec = EnvSpec.from_suite(suite)
    ctx = TrainingContext(suite, spec, seed=0, budget_env_steps=10**12, env_workers=env_workers)
    batch = ctx.trial_batch(rows, autoreset=True)
    rng = np.random.default_rng(0)
    low, high = np.array(spec.action_low), np.array(spec.action_high)
    batch.reset()
    start = time.perf_counter()
    for _ in range(max(steps // rows, 1)):
        batch.step(rng.uniform(low, high, size=(rows, spec.act_dim)).astype(np.float32))
    elapsed = time.perf_counter() - start
    ctx.close()
    return ctx.env_steps / elapsed


def bench_suites(names: Iterable[str], steps: int, repeats: int, rows: int, workers: int) -> dict:
    figures: dict[str, dict[str, float]] = {}
    for name in names:
        start = time.perf_counter()
        suite = make_suite(name, seed=0)
        build_s = time.perf_counter() - start
        raw = harness = 0.0
        for _ in range(max(repeats, 1)):  # alternate, so slow phases of the machine hit both
            raw = max(raw, raw_steps_per_s(suite, steps))
            harness = max(harness, batch_steps_per_s(suite, steps, rows))
        figures[name] = {"build_s": build_s, "raw": raw, "harness": harness, "ratio": harness / raw}
        if name == E2E_SUITE and workers > 1:
            parallel = max(batch_steps_per_s(suite, 4 * steps, 4 * rows, workers) for _ in range(repeats))
            figures[name].update(workers=workers, workers_rows=4 * rows, workers_harness=parallel)
    return figures


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


def bench_update(samples: int, epochs: int, repeats: int) -> dict:
    """One PPO update of the halfcheetah-vel paper config on ``samples`` synthetic samples."""
    import torch

    from agents.trmrl.agent import TrMRLAgent
    from agents.trmrl.ppo import Batch
    from benchmark.agent import EnvSpec

    spec = EnvSpec.from_suite(make_suite(E2E_SUITE, seed=0))
    config = dataclasses.replace(TrMRLAgent.default_config(E2E_SUITE, "paper"), opt_epochs=epochs)
    agent = TrMRLAgent(config, spec, seed=0)
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
    forward = gemm_flops(trmrl_forward_gemms(config, token_dim, spec.act_dim, 1))
    value_sizes = (token_dim, *config.value_hidden_sizes, 1)
    value = float(sum(2 * a * b for a, b in zip(value_sizes[:-1], value_sizes[1:], strict=True)))
    # No-grad forwards of every sample, then epochs of forward + backward (3x) for policy and value.
    flops = samples * ((forward + value) + 3 * epochs * (forward + value))
    best = float("inf")
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        agent.learner(batch, np.random.default_rng(0))
        best = min(best, time.perf_counter() - start)
    update_rate = flops / best
    minibatch = trmrl_forward_gemms(config, token_dim, spec.act_dim, config.minibatch_size)
    reference = max(matmul_flops_per_s(minibatch, 1.0) for _ in range(max(repeats, 1)))
    return {
        "config": "halfcheetah-vel paper (d_model 128, 16 heads, 4 layers, window 5, minibatch 256)",
        "samples": samples,
        "epochs": epochs,
        "forward_flops_per_sample": forward,
        "update_seconds": best,
        "update_flops_per_s": update_rate,
        "matmul_flops_per_s": reference,
        "ratio": update_rate / reference,
        "paper_iteration_seconds_estimate": best * (8000 / samples) * (1 + 3 * 10) / (1 + 3 * epochs),
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


# ---- end to end: every method, one iteration of its paper config, in its own process -------------------


def e2e_child(method: str, suite_name: str, profile: str, budget: int) -> dict:
    """Run in a child process: train ``method`` until ``budget`` env steps (at least one iteration)."""
    import torch

    from benchmark import registry
    from benchmark.agent import EnvSpec, Runtime, TrainingContext

    torch.set_num_threads(1)
    suite = make_suite(suite_name, seed=0)
    spec = EnvSpec.from_suite(suite)
    factory = registry.load_method(method)
    agent = factory(factory.default_config(suite_name, profile), spec, 0, Runtime())
    ctx = TrainingContext(suite, spec, seed=0, budget_env_steps=budget)
    start, iterations = time.perf_counter(), 0
    for _ in agent.meta_train(ctx):
        iterations += 1
        if ctx.budget_exhausted:
            break
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "env_steps": ctx.env_steps,
        "iterations": iterations,
        "seconds": seconds,
        "steps_per_s": ctx.env_steps / seconds,
        "peak_rss_mb": peak_mb,
    }


def _child_command(method: str, suite: str, profile: str, budget: int) -> list[str]:
    return [sys.executable, "-m", "benchmark.bench", "--child", method, suite, profile, str(budget)]


def _child_env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[1])
    return {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }


def _parse_child(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def bench_e2e(methods: Iterable[str], profile: str, budget: int, timeout: float) -> dict:
    figures: dict[str, dict] = {}
    for method in methods:
        command = _child_command(method, E2E_SUITE, profile, budget)
        try:
            done = subprocess.run(command, env=_child_env(), capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            figures[method] = {"error": f"one iteration of the {profile} config took over {timeout:.0f} s"}
            continue
        if done.returncode != 0:
            figures[method] = {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
            continue
        figures[method] = {"profile": profile, "suite": E2E_SUITE, **_parse_child(done.stdout)}
    return figures


def bench_seeds(parallel: int, profile: str, budget: int, timeout: float) -> dict:
    """``parallel`` TrMRL runs at once (one per core) against one alone: aggregate env steps/s."""

    def run_many(k: int) -> float:
        command = _child_command("trmrl", E2E_SUITE, profile, budget)
        children = [
            subprocess.Popen(
                command, env=_child_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
            )
            for _ in range(k)
        ]
        outputs = [child.communicate(timeout=timeout)[0] for child in children]
        return float(sum(_parse_child(out)["steps_per_s"] for out in outputs))

    alone = run_many(1)
    together = run_many(parallel)
    return {
        "runs": parallel,
        "profile": profile,
        "alone_steps_per_s": alone,
        "together_steps_per_s": together,
        "scaling": together / alone,
        "target": 0.8 * parallel,
    }


# ---- cost model ---------------------------------------------------------------------------------------


def estimate_cost(jobs: Iterable[Any], bench_json: Path = DEFAULT_JSON) -> tuple[float, str]:
    """CPU-hours of ``jobs`` (objects with ``method``, ``suite``, ``budget_env_steps``, e.g. ``RunSpec``).

    From the committed bench figures: a method's seconds per env step on halfcheetah-vel (``e2e``), with
    the simulator's share swapped for the job's suite (``1/e2e - 1/raw[halfcheetah-vel] + 1/raw[suite]``;
    suites without a figure keep halfcheetah's). Agent compute is taken as halfcheetah-vel's paper config
    for every suite: an estimate, not a promise. Methods without a figure use the slowest measured one.
    Returns the total and a printable table per (method, suite).
    """
    figures = json.loads(Path(bench_json).read_text())
    suites, e2e = figures.get("suites", {}), figures.get("e2e", {})
    rates = {m: f["steps_per_s"] for m, f in e2e.items() if "steps_per_s" in f}
    slowest = min(rates.values()) if rates else 100.0
    raw_ref = suites.get(E2E_SUITE, {}).get("raw")
    rows: dict[tuple[str, str], list[float]] = {}
    for job in jobs:
        seconds_per_step = 1.0 / rates.get(job.method, slowest)
        if raw_ref and job.suite in suites:
            seconds_per_step += 1.0 / suites[job.suite]["raw"] - 1.0 / raw_ref
        hours = job.budget_env_steps * max(seconds_per_step, 1e-7) / 3600
        row = rows.setdefault((job.method, job.suite), [0, 0, 0.0])
        row[0] += 1
        row[1] += job.budget_env_steps
        row[2] += hours
    total = sum(r[2] for r in rows.values())
    lines = [f"{'method':8s} {'suite':16s} {'runs':>5s} {'env steps':>14s} {'CPU-hours':>10s}"]
    for (method, suite), (runs, steps, hours) in sorted(rows.items()):
        lines.append(f"{method:8s} {suite:16s} {runs:5.0f} {steps:14,.0f} {hours:10,.1f}")
    machine = figures.get("machine", {})
    lines.append(
        f"total {total:,.0f} CPU-hours (1 core per run), from {Path(bench_json).name} measured on "
        f"{machine.get('cpu', '?')} (load {machine.get('loadavg_start', '?')}); GPU-hours: "
        + (f"{figures['gpu']}" if figures.get("gpu") else "not measured (no GPU)")
    )
    return total, "\n".join(lines)


def paper_jobs() -> list[Any]:
    """The ``paper`` profile's runs as (method, suite, budget) records, for :func:`estimate_cost`."""
    from benchmark.profiles import get_profile

    profile = get_profile("paper")

    @dataclasses.dataclass
    class Job:
        method: str
        suite: str
        budget_env_steps: int

    return [
        Job(m, s, profile.budget(s).env_steps)
        for m in profile.methods
        for s in profile.suites
        for _ in range(profile.seeds)
    ]


# ---- the whole bench -----------------------------------------------------------------------------------


def machine() -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def print_report(figures: dict) -> None:
    m = figures["machine"]
    print(f"machine: {m['cpu']} x{m['cpu_count']}, load {m['loadavg_start']} -> {m.get('loadavg_end')}")
    print(
        f"\n{'suite':16s} {'build s':>8s} {'simulator/s':>12s} {'harness/s':>10s} {'ratio':>6s}"
        "  (target >= 0.9)"
    )
    for name, f in figures["suites"].items():
        print(f"{name:16s} {f['build_s']:8.2f} {f['raw']:12.0f} {f['harness']:10.0f} {f['ratio']:6.2f}")
        if "workers_harness" in f:
            print(
                f"{'':16s} {'':8s} {f['workers']} env workers, {f['workers_rows']} rows: "
                f"{f['workers_harness']:.0f}/s"
            )
    u = figures["update"]
    print(
        f"\nTrMRL update: {u['update_flops_per_s'] / 1e9:.1f} GFLOP/s vs matmul "
        f"{u['matmul_flops_per_s'] / 1e9:.1f}"
        f" GFLOP/s of the same shapes = {u['ratio']:.0%} (target >= 80%); a paper iteration's update "
        f"~{u['paper_iteration_seconds_estimate']:.0f} s"
    )
    a = figures["acting"]
    print(
        f"TrMRL acting: meta-batch {a['meta_batch']} batched {a['batched_s'] * 1e3:.2f} ms vs batch-1 "
        f"{a['batch1_s'] * 1e3:.2f} ms per step = {a['speedup']:.1f}x (target >= 3x)"
    )
    print(
        f"\n{'method':8s} {'profile':8s} {'env steps':>10s} {'iters':>6s} {'s':>8s} {'steps/s':>9s}"
        f" {'peak MB':>8s}"
    )
    for method, f in figures["e2e"].items():
        if "error" in f:
            print(f"{method:8s} {f['error']}")
        else:
            print(
                f"{method:8s} {f['profile']:8s} {f['env_steps']:10d} {f['iterations']:6d} "
                f"{f['seconds']:8.1f} "
                f"{f['steps_per_s']:9.0f} {f['peak_rss_mb']:8.0f}"
            )
    s = figures["seeds"]
    print(
        f"\nseeds: {s['runs']} TrMRL runs together {s['together_steps_per_s']:.0f} steps/s vs one alone "
        f"{s['alone_steps_per_s']:.0f} = {s['scaling']:.2f}x (target >= {s['target']:.1f}x)"
    )
    print("\n" + figures["cost"]["table"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a sub-minute smoke run of every section")
    parser.add_argument("--suites", nargs="+", choices=list(SUITES), metavar="SUITE")
    parser.add_argument("--steps", type=int, help="env steps per suite measurement (default 5000; quick 500)")
    parser.add_argument("--repeats", type=int, help="measurements per figure, best kept (default 3; quick 1)")
    parser.add_argument("--methods", nargs="+", default=list(E2E_METHODS), help="methods for the e2e table")
    parser.add_argument("--timeout", type=float, default=150.0, help="seconds allowed per e2e child")
    parser.add_argument(
        "--json", type=Path, help=f"where the figures go (default {DEFAULT_JSON}; quick: none)"
    )
    parser.add_argument(
        "--child", nargs=4, metavar=("METHOD", "SUITE", "PROFILE", "BUDGET"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    if args.child:
        method, suite, profile, budget = args.child
        print(json.dumps(e2e_child(method, suite, profile, int(budget))))
        return 0

    quick = args.quick
    steps = args.steps or (500 if quick else 5000)
    repeats = args.repeats or (1 if quick else 3)
    profile = "smoke" if quick else "paper"
    workers = os.cpu_count() or 1
    figures: dict[str, Any] = {"quick": quick, "machine": machine()}
    suites = args.suites or (["point-nav", E2E_SUITE] if quick else list(DEFAULT_SUITES))
    figures["suites"] = bench_suites(suites, steps, repeats, rows=4, workers=workers)
    figures["update"] = bench_update(samples=512 if quick else 2048, epochs=1, repeats=repeats)
    figures["acting"] = bench_acting(calls=5 if quick else 50, repeats=repeats)
    figures["e2e"] = bench_e2e(args.methods, profile, budget=1, timeout=args.timeout)
    figures["seeds"] = bench_seeds(
        workers, "smoke" if quick else "quick", 400 if quick else 4000, args.timeout * 2
    )
    figures["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    out = args.json if args.json else (None if quick else DEFAULT_JSON)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(figures, indent=2) + "\n")
        total, table = estimate_cost(paper_jobs(), out)
        figures["cost"] = {"cpu_hours": total, "table": table}
        out.write_text(json.dumps(figures, indent=2) + "\n")
    else:
        figures["cost"] = {"cpu_hours": None, "table": "cost: not estimated (no JSON written)"}
    print_report(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
