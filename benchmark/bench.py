"""``make bench``: where a run's time goes, measured in one run on one machine.

Sections (each figure printed; ratios where a ratio is the claim; nothing here is a test assertion):

* **suites**: for every suite, the bare simulator (the suite's env in a bare loop, random actions, on the
  tasks the harness path plays) next to the harness's sampling path (:class:`~benchmark.trial.TrialBatch`
  of trial envs); target >= 0.9x. Also the same bare envs stepped in turn, as a batch steps its rows
  ("lockstep"): the harness's overhead alone, apart from what stepping several simulators costs. For
  halfcheetah-vel also the same batch stepped by ``N`` subprocess env workers (``env_workers``).
* **e2e**: meta-training env steps/s of every method in its paper config on halfcheetah-vel for one
  iteration (each in its own process, which also gives its peak memory).
* **seeds**: N runs at once on N cores against one alone (``N = os.cpu_count()``); target >= 0.8 N.
* **cost**: the ``paper`` profile's estimated CPU-hours (:func:`benchmark.cost.estimate_cost`), from the
  e2e figures.

TrMRL's own micro-benchmarks (its update's FLOP/s, batched acting) live beside the agent
(``python -m agents.trmrl.bench``, which adds its sections to the same JSON); ``make bench`` runs both.

Each throughput figure is the best of ``--repeats`` measurements (the least disturbed by other load). The
JSON records the machine and its load average, so a reader can judge the figures. ``--quick`` is a
sub-minute smoke run of every section (smoke configs, tiny budgets); its figures mean little.
"""

from __future__ import annotations

import argparse
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

from benchmark.cost import DEFAULT_JSON, E2E_SUITE, estimate_cost, paper_jobs
from benchmark.registry import method_names
from benchmark.suites import SUITES, make_suite

# Every registered method except variants, which share their base method's agent and compute.
E2E_METHODS = method_names(variants=False)


# ---- suites: simulator against the harness's sampling path ----------------------------------------------


def first_tasks(suite: Any, n: int) -> list[Any]:
    """The first ``n`` tasks of a seed-0 run's meta-training stream: what the harness's rows play first."""
    from benchmark.agent import EnvSpec, TrainingContext

    ctx = TrainingContext(suite, EnvSpec.from_suite(suite), seed=0, budget_env_steps=1)
    try:
        return ctx.task_sampler.draw_many(n)
    finally:
        ctx.close()


def raw_steps_per_s(suite: Any, steps: int, tasks: list[Any]) -> float:
    """The suite's own env in a bare loop with uniform random actions, reset at the horizon.

    The steps are shared equally among ``tasks`` (the tasks the harness path plays, :func:`first_tasks`):
    ML10's and ML45's classes step at speeds up to 4x apart, so one class would not be a fair baseline.
    Only the steps are timed, not the switches between tasks (a class switch builds its simulator).
    """
    env = suite.make_env()
    rng = np.random.default_rng(0)
    action_space = env.action_space
    assert isinstance(action_space, gym.spaces.Box)
    low, high = action_space.low, action_space.high
    share = max(steps // len(tasks), 1)
    elapsed = 0.0
    for task in tasks:
        env.set_task(task)
        env.reset(seed=0)
        t = 0
        start = time.perf_counter()
        for _ in range(share):
            _, _, terminated, truncated, _ = env.step(rng.uniform(low, high).astype(np.float32))
            t += 1
            if terminated or truncated or t >= suite.horizon:
                env.reset()
                t = 0
        elapsed += time.perf_counter() - start
    env.close()
    return share * len(tasks) / elapsed


def lockstep_steps_per_s(suite: Any, steps: int, tasks: list[Any]) -> float:
    """One bare env per task of ``tasks``, stepped in turn as a batch steps its rows (random actions).

    The harness path's own baseline: a batch of different Meta-World classes pays for switching between
    their simulators' memory on every step, which the one-env loop of :func:`raw_steps_per_s` does not.
    """
    envs = [suite.make_env() for _ in tasks]
    rng = np.random.default_rng(0)
    action_space = envs[0].action_space
    assert isinstance(action_space, gym.spaces.Box)
    low, high = action_space.low, action_space.high
    for env, task in zip(envs, tasks, strict=True):
        env.set_task(task)
        env.reset(seed=0)
    t = [0] * len(envs)
    rounds = max(steps // len(envs), 1)
    start = time.perf_counter()
    for _ in range(rounds):
        for i, env in enumerate(envs):
            _, _, terminated, truncated, _ = env.step(rng.uniform(low, high).astype(np.float32))
            t[i] += 1
            if terminated or truncated or t[i] >= suite.horizon:
                env.reset()
                t[i] = 0
    elapsed = time.perf_counter() - start
    for env in envs:
        env.close()
    return rounds * len(envs) / elapsed


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
        raw = lockstep = harness = 0.0
        tasks = first_tasks(suite, rows)
        for _ in range(max(repeats, 1)):  # alternate, so slow phases of the machine hit all three
            raw = max(raw, raw_steps_per_s(suite, steps, tasks))
            lockstep = max(lockstep, lockstep_steps_per_s(suite, steps, tasks))
            harness = max(harness, batch_steps_per_s(suite, steps, rows))
        figures[name] = {
            "build_s": build_s,
            "raw": raw,
            "lockstep": lockstep,
            "harness": harness,
            "ratio": harness / raw,
            "ratio_lockstep": harness / lockstep,
        }
        if name == E2E_SUITE and workers > 1:
            parallel = max(batch_steps_per_s(suite, 4 * steps, 4 * rows, workers) for _ in range(repeats))
            figures[name].update(workers=workers, workers_rows=4 * rows, workers_harness=parallel)
    return figures


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
    figures = {
        "env_steps": ctx.env_steps,
        "iterations": iterations,
        "seconds": seconds,
        "steps_per_s": ctx.env_steps / seconds,
        "peak_rss_mb": peak_mb,
    }
    stats = agent.last_stats
    if {"collect_env_steps", "collect_seconds", "train_seconds"} <= set(stats):
        # PEARL's first iteration also gathers the initial pool (2,000 steps on each of 100 tasks), which
        # later iterations do not: its steady rate is the iteration's own collection over its own time.
        steady = stats["collect_seconds"] + stats["train_seconds"]
        figures.update(
            steady_steps_per_s=stats["collect_env_steps"] / steady,
            collect_seconds=stats["collect_seconds"],
            train_seconds=stats["train_seconds"],
        )
    return figures


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
        f" {'lockstep/s':>11s} {'ratio':>6s}  (target >= 0.9; lockstep: the same envs stepped in turn)"
    )
    for name, f in figures["suites"].items():
        print(
            f"{name:16s} {f['build_s']:8.2f} {f['raw']:12.0f} {f['harness']:10.0f} {f['ratio']:6.2f}"
            f" {f['lockstep']:11.0f} {f['ratio_lockstep']:6.2f}"
        )
        if "workers_harness" in f:
            print(
                f"{'':16s} {'':8s} {f['workers']} env workers, {f['workers_rows']} rows: "
                f"{f['workers_harness']:.0f}/s"
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
            if "steady_steps_per_s" in f:
                print(
                    f"{'':8s} steady (later iterations, no initial pool): "
                    f"{f['steady_steps_per_s']:.1f} steps/s; an iteration collects for "
                    f"{f['collect_seconds']:.1f} s and trains for {f['train_seconds']:.0f} s"
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
    parser.add_argument(
        "--timeout",
        type=float,
        default=1200.0,
        help="seconds allowed per e2e child (PEARL's paper iteration takes ~12 min on one core)",
    )
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
    suites = args.suites or (["point-nav", E2E_SUITE] if quick else list(SUITES))
    figures["suites"] = bench_suites(suites, steps, repeats, rows=4, workers=workers)
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
