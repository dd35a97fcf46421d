"""``make bench``: where a run's time goes, measured in one run on one machine, and the rates the
cost model (:mod:`benchmark.cost`) prices every run with.

Sections (each figure printed; ratios where a ratio is the claim; nothing here is a test assertion):

* **compute**: one core's dense layers (no-grad forward and training step) at a grid of rows x widths,
  fitted as a per-layer overhead plus costs per activation element, multiply-add and parameter
  (:func:`fit_layer_seconds`); scaled dot-product attention per window; an LSTM step; one tiny framework call.
* **suites**: for every suite, the bare simulator (the suite's env in a bare loop, random actions, on the
  tasks the harness path plays) next to the harness's sampling path (:class:`~benchmark.trial.TrialBatch`
  of trial envs); target >= 0.9x. Also the same bare envs stepped in turn, as a batch steps its rows
  ("lockstep"): the harness's overhead alone, apart from what stepping several simulators costs; and the
  seconds of a row's reset onto a new task. For halfcheetah-vel also the same batch stepped by ``N``
  subprocess env workers (``env_workers``).
* **check**: the cost model's estimate, from this run's compute and suites figures, beside short measured
  runs of a few (method, profile, suite) configurations (:data:`CHECK_ENTRIES`, ``--check``): their
  meta-training env steps/s and one evaluation point; target within 25 %.
* **e2e**: meta-training env steps/s of every method in its paper config on halfcheetah-vel for one
  iteration (each in its own process, which also gives its peak memory), with the model's estimate beside.
* **seeds**: N runs at once on N cores against one alone (``N = os.cpu_count()``); target >= 0.8 N.
* **cost**: the ``quick`` and ``paper`` profiles' estimated CPU-hours (:func:`benchmark.cost.estimate`).

TrMRL's own micro-benchmarks (its update's FLOP/s, batched acting) live beside the agent
(``python -m agents.trmrl.bench``, which adds its sections to the same JSON); ``make bench`` runs both.
``--sections`` picks sections (the rates alone: ``--sections compute suites check``, a few minutes).

Each throughput figure is the best of ``--repeats`` measurements (the least disturbed by other load). The
JSON records the machine and its load average, so a reader can judge the figures. ``--quick`` is a
sub-minute smoke run of every section (smoke configs, tiny budgets); its figures mean little.
"""

from __future__ import annotations

import argparse
import itertools
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

from benchmark.cost import DEFAULT_JSON, E2E_SUITE, profile_runs
from benchmark.files import atomic_write_bytes
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


def reset_seconds(suite: Any, tasks: list[Any], resets: int) -> float:
    """Seconds per row of a batch's reset onto ``tasks`` (Meta-World: ``set_task`` and its reset; a class
    switch between ML10/ML45 classes once their instances exist), after one warm-up reset (the instances a
    run builds once)."""
    from benchmark.trial import TrialBatch, make_trial_env

    envs = [make_trial_env(suite, [task], 1, seed=i) for i, task in enumerate(tasks)]
    batch = TrialBatch(envs)
    try:
        batch.reset(tasks)
        start = time.perf_counter()
        for i in range(resets):
            batch.reset(tasks[i % 2 :] + tasks[: i % 2])  # each row switches task
        return (time.perf_counter() - start) / (resets * len(tasks))
    finally:
        batch.close()


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
            "reset_s": min(reset_seconds(suite, tasks, 5) for _ in range(max(repeats, 1))),
        }
        if name == E2E_SUITE and workers > 1:
            parallel = max(batch_steps_per_s(suite, 4 * steps, 4 * rows, workers) for _ in range(repeats))
            figures[name].update(workers=workers, workers_rows=4 * rows, workers_harness=parallel)
    return figures


# ---- compute: the cost model's rates of one core ------------------------------------------------------

COMPUTE_ROWS = (16, 64, 256, 1024, 4096)
COMPUTE_WIDTHS = (16, 32, 64, 128, 256, 512)


def _best_seconds(fn: Any, min_seconds: float, repeats: int) -> float:
    """Seconds of one ``fn()``: the best over ``repeats`` of the mean over calls that fill ``min_seconds``."""
    fn()  # warm up (allocations, lazy initialisation)
    best = float("inf")
    for _ in range(max(repeats, 1)):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        best = min(best, elapsed / calls)
    return best


def _mlp(widths: tuple[int, ...]) -> Any:
    from torch import nn

    layers: list[Any] = []
    for a, b in itertools.pairwise(widths):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def _forward_and_train(widths: tuple[int, ...], rows: int) -> tuple[Any, Any]:
    """A ReLU MLP's no-grad forward and its training step (forward, backward, Adam) on ``rows`` rows."""
    import torch

    net = _mlp(widths)
    x = torch.randn(rows, widths[0])
    optimizer = torch.optim.Adam(net.parameters())

    def forward() -> None:
        with torch.no_grad():
            net(x)

    def train() -> None:
        optimizer.zero_grad()
        net(x).square().mean().backward()
        optimizer.step()

    return forward, train


def fit_layer_seconds(
    rows: Iterable[int], widths: Iterable[int], seconds: list[list[float]], flops_per_mac: int
) -> dict:
    """Fit ``t = layer_s + element_s m n + mac_s m k n + param_s k n`` (a layer of ``k -> n`` on ``m`` rows)
    to the measured ``seconds[rows][widths]`` (``k = n = width``), least relative squares, no negative term
    (a term that would be negative is dropped). Also gives ``gflops`` (``flops_per_mac / mac_s``: 2 for a
    forward, 6 for forward and backward) and the fit's mean relative error (``error``), which the load of the
    machine sets."""
    points = [
        (m, w, t) for m, row in zip(rows, seconds, strict=True) for w, t in zip(widths, row, strict=True)
    ]
    features = np.array([[1.0, m * w, m * w * w, w * w] for m, w, _ in points])
    target = np.array([t for _, _, t in points])
    keep = [0, 1, 2, 3]
    while True:
        scaled = features[:, keep] / target[:, None]
        coefficients = np.linalg.lstsq(scaled, np.ones(len(target)), rcond=None)[0]
        if (coefficients >= 0).all():
            break
        keep = [k for k, c in zip(keep, coefficients, strict=True) if c >= 0]
    full = np.zeros(4)
    full[keep] = coefficients
    error = float(np.mean(np.abs(features @ full / target - 1.0)))
    names = ("layer_s", "element_s", "mac_s", "param_s")
    gflops = float(flops_per_mac * 1e-9 / full[2]) if full[2] > 0 else float("inf")
    return {**dict(zip(names, (float(x) for x in full), strict=True)), "gflops": gflops, "error": error}


def bench_compute(min_seconds: float, repeats: int) -> dict:
    """The rates the cost model (:mod:`benchmark.cost`) prices work with, on one core (one torch thread).

    * ``op_s``: one tiny torch call from Python (the unit of the methods' glue counts);
    * ``forward_s``, ``train_s`` (``rows`` x ``widths``): seconds of one dense layer (``width x width``
      Linear + ReLU, measured as a stack of three) applied to ``rows`` rows: no-grad forward, and training
      step (forward, backward, Adam), overheads included;
    * ``forward``, ``train``: those seconds fitted (:func:`fit_layer_seconds`) as a per-layer overhead, a
      cost per activation element, per multiply-add (the GFLOP/s) and per parameter (the optimizer), which
      the model prices any layer shape with;
    * ``attention``: scaled dot-product attention, per call and per (batch x head) window of 5 keys x 5
      queries x 8 head dims, no-grad and with its backward (TrMRL's shapes);
    * ``lstm``: one step of ``nn.LSTM`` (8 -> 8 units, one sequence): the per-step overhead of its loop.
    """
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)
    a, b = torch.zeros(1), torch.zeros(1)
    op_s = _best_seconds(lambda: torch.add(a, b), min_seconds / 4, repeats)
    tables: dict[str, list[list[float]]] = {"forward": [], "train": []}
    for rows in COMPUTE_ROWS:
        row: dict[str, list[float]] = {"forward": [], "train": []}
        for width in COMPUTE_WIDTHS:
            fns = dict(zip(("forward", "train"), _forward_and_train((width,) * 4, rows), strict=True))
            for kind, fn in fns.items():
                row[kind].append(_best_seconds(fn, min_seconds / 20, repeats) / 3)
        for kind in tables:
            tables[kind].append(row[kind])

    def attention(windows: int, grad: bool) -> float:
        q, k, v = (torch.randn(windows, 1, 5, 8, requires_grad=grad) for _ in range(3))
        mask = torch.triu(torch.full((5, 5), float("-inf")), diagonal=1)
        g = torch.randn(windows, 1, 5, 8)

        def call() -> None:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            if grad:
                torch.autograd.grad(out, (q, k, v), g)

        return _best_seconds(call, min_seconds / 8, repeats)

    big = 4096
    attention_figures: dict[str, float] = {"length": 5, "queries": 5, "head_dim": 8}
    for kind, grad in (("forward", False), ("train", True)):
        call_s = attention(1, grad)
        attention_figures[f"{kind}_call_s"] = call_s
        attention_figures[f"{kind}_window_s"] = max(attention(big, grad) - call_s, 0.0) / big

    lstm = torch.nn.LSTM(8, 8)
    steps = 64
    x = torch.randn(steps, 1, 8)

    def lstm_forward() -> None:
        with torch.no_grad():
            lstm(x)

    def lstm_train() -> None:
        lstm.zero_grad()
        lstm(x)[0].sum().backward()

    return {
        "threads": torch.get_num_threads(),
        "op_s": op_s,
        "rows": list(COMPUTE_ROWS),
        "widths": list(COMPUTE_WIDTHS),
        "forward_s": tables["forward"],
        "train_s": tables["train"],
        "forward": fit_layer_seconds(COMPUTE_ROWS, COMPUTE_WIDTHS, tables["forward"], 2),
        "train": fit_layer_seconds(COMPUTE_ROWS, COMPUTE_WIDTHS, tables["train"], 6),
        "attention": attention_figures,
        "lstm": {
            "forward_step_s": _best_seconds(lstm_forward, min_seconds / 8, repeats) / steps,
            "train_step_s": _best_seconds(lstm_train, min_seconds / 8, repeats) / steps,
        },
    }


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


# ---- check: the cost model's estimate beside short measured runs ---------------------------------------

CHECK_ENTRIES = (
    "trmrl/quick/halfcheetah-vel",
    "pearl/quick/point-nav",
    "maml/quick/halfcheetah-vel",
    "rl2/quick/point-nav",
)
"""method/profile/suite of the check section: the profile gives the configuration tier and the evaluation"""


def check_child(method: str, suite_name: str, profile: str, iterations: int) -> dict:
    """Run in a child process: ``iterations`` meta-training iterations of the run ``profile`` makes of
    ``method`` on ``suite_name`` (seed 0), then one evaluation point of its protocol; seconds of each."""
    import torch

    from benchmark import registry
    from benchmark.agent import EnvSpec, Runtime, TrainingContext
    from benchmark.protocol import evaluate
    from benchmark.request import RunRequest

    torch.set_num_threads(1)
    spec, config = RunRequest(method, suite_name, 0, profile).resolve()
    suite = make_suite(suite_name, seed=0)
    env = EnvSpec.from_suite(suite)
    agent = registry.load_method(method)(config, env, 0, Runtime())
    ctx = TrainingContext(suite, env, seed=0, budget_env_steps=10**12)
    done, start = 0, time.perf_counter()
    training = agent.meta_train(ctx)
    for _ in training:
        done += 1
        if done >= iterations:
            break
    training.close()
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    evaluate(agent, suite, spec.eval, seed=0)
    eval_s = time.perf_counter() - start
    ctx.close()
    return {"iterations": done, "env_steps": ctx.env_steps, "train_s": train_s, "eval_s": eval_s}


def bench_check(entries: Iterable[str], figures: dict, target_s: float, timeout: float) -> dict:
    """For each ``method/profile/suite``: the model's estimate (from this run's ``compute`` and ``suites``
    figures) beside a short measured run of the same configuration: as many iterations as the model
    expects in ``target_s`` seconds (at least one, after the setup), then one evaluation point."""
    from benchmark.cost import MachineRates, PricedRun, price
    from benchmark.request import RunRequest

    rates = MachineRates.of(figures)
    results: dict[str, dict] = {}
    for entry in entries:
        method, profile, suite = entry.split("/")
        cost = price(PricedRun.of(RunRequest(method, suite, 0, profile).resolve()[0]), rates)
        iterations = max(1, int((target_s - cost.setup_s) // max(cost.iteration_s, 1e-9)))
        command = [sys.executable, "-m", "benchmark.bench", "--check-child", method, suite, profile]
        try:
            done = subprocess.run(
                [*command, str(iterations)], env=_child_env(), capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            results[entry] = {"error": f"took over {timeout:.0f} s"}
            continue
        if done.returncode != 0:
            results[entry] = {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
            continue
        measured = _parse_child(done.stdout)
        estimated_train = cost.setup_s + measured["iterations"] * cost.iteration_s
        steps = cost.work.setup.env_steps + measured["iterations"] * cost.work.iteration.env_steps
        results[entry] = {
            **measured,
            "estimated_env_steps": steps,
            "estimated_train_s": estimated_train,
            "estimated_eval_s": cost.evaluation_s,
            "train_ratio": measured["train_s"] / estimated_train,
            "eval_ratio": measured["eval_s"] / cost.evaluation_s,
        }
    return results


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
    if "compute" in figures:
        c = figures["compute"]
        f, t = c["forward"], c["train"]
        print(
            f"\ncompute (one core): a dense layer costs {f['layer_s'] * 1e6:.0f} us + "
            f"{f['gflops']:.0f} GFLOP/s "
            f"forward (fit within {f['error']:.0%}), {t['layer_s'] * 1e6:.0f} us + {t['gflops']:.0f} GFLOP/s "
            f"training (within {t['error']:.0%}); a framework call {c['op_s'] * 1e6:.1f} us; an LSTM step "
            f"{c['lstm']['forward_step_s'] * 1e6:.1f} / {c['lstm']['train_step_s'] * 1e6:.1f} us"
        )
    if "suites" in figures:
        print(
            f"\n{'suite':16s} {'build s':>8s} {'simulator/s':>12s} {'harness/s':>10s} {'ratio':>6s}"
            f" {'lockstep/s':>11s} {'ratio':>6s} {'reset ms':>9s}  (target >= 0.9; lockstep: the same envs "
            "stepped in turn)"
        )
        for name, f in figures["suites"].items():
            print(
                f"{name:16s} {f['build_s']:8.2f} {f['raw']:12.0f} {f['harness']:10.0f} {f['ratio']:6.2f}"
                f" {f['lockstep']:11.0f} {f['ratio_lockstep']:6.2f}"
                f" {f.get('reset_s', float('nan')) * 1e3:9.2f}"
            )
            if "workers_harness" in f:
                print(
                    f"{'':16s} {'':8s} {f['workers']} env workers, {f['workers_rows']} rows: "
                    f"{f['workers_harness']:.0f}/s"
                )
    if "check" in figures:
        print(
            f"\n{'check (method/profile/suite)':32s} {'iters':>5s} {'env steps/s':>12s} {'estimated':>10s} "
            f"{'ratio':>6s} {'eval s':>7s} {'estimated':>10s} {'ratio':>6s}  (ratio: estimated time / "
            "measured time; target 0.8-1.25)"
        )
        for entry, f in figures["check"].items():
            if "error" in f:
                print(f"{entry:32s} {f['error']}")
                continue
            print(
                f"{entry:32s} {f['iterations']:5d} {f['env_steps'] / f['train_s']:12.0f} "
                f"{f['estimated_env_steps'] / f['estimated_train_s']:10.0f} {1 / f['train_ratio']:6.2f} "
                f"{f['eval_s']:7.2f} {f['estimated_eval_s']:10.2f} {1 / f['eval_ratio']:6.2f}"
            )
    if "e2e" in figures:
        print(
            f"\n{'method':8s} {'profile':8s} {'env steps':>10s} {'iters':>6s} {'s':>8s} {'steps/s':>9s}"
            f" {'peak MB':>8s} {'estimated s':>12s}"
        )
        for method, f in figures["e2e"].items():
            if "error" in f:
                print(f"{method:8s} {f['error']}")
                continue
            estimate = f"{f['estimated_s']:12.1f}" if "estimated_s" in f else ""
            print(
                f"{method:8s} {f['profile']:8s} {f['env_steps']:10d} {f['iterations']:6d} "
                f"{f['seconds']:8.1f} {f['steps_per_s']:9.0f} {f['peak_rss_mb']:8.0f} {estimate}"
            )
            if "steady_steps_per_s" in f:
                print(
                    f"{'':8s} steady (later iterations, no initial pool): "
                    f"{f['steady_steps_per_s']:.1f} steps/s; an iteration collects for "
                    f"{f['collect_seconds']:.1f} s and trains for {f['train_seconds']:.0f} s"
                )
    if "seeds" in figures:
        s = figures["seeds"]
        print(
            f"\nseeds: {s['runs']} TrMRL runs together {s['together_steps_per_s']:.0f} steps/s vs one alone "
            f"{s['alone_steps_per_s']:.0f} = {s['scaling']:.2f}x (target >= {s['target']:.1f}x)"
        )
    if "cost" in figures:
        print("\n" + figures["cost"]["table"])


SECTIONS = ("compute", "suites", "check", "e2e", "seeds")


def estimate_e2e(figures: dict, profile: str) -> None:
    """Add the model's estimate of each e2e figure (the setup and the iterations measured) beside it."""
    from benchmark.cost import MachineRates, PricedRun, price
    from benchmark.request import RunRequest

    rates = MachineRates.of(figures)
    for method, f in figures["e2e"].items():
        if "error" in f:
            continue
        cost = price(PricedRun.of(RunRequest(method, f["suite"], 0, profile).resolve()[0]), rates)
        f["estimated_s"] = cost.setup_s + f["iterations"] * cost.iteration_s


def cost_section(figures: dict) -> dict:
    """The ``quick`` and ``paper`` profiles' estimated CPU-hours and the paper grid's table."""
    from benchmark.cost import MachineRates, describe_cost, estimate

    rates = MachineRates.of(figures, "this run's figures")
    quick, paper = estimate(profile_runs("quick"), rates=rates), estimate(profile_runs("paper"), rates=rates)
    return {
        "quick_cpu_hours": quick.cpu_hours,
        "cpu_hours": paper.cpu_hours,
        "table": f"quick profile: {describe_cost(quick, 2)}\npaper profile: {describe_cost(paper, 2)}\n"
        + paper.table(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a sub-minute smoke run of every section")
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=SECTIONS,
        default=list(SECTIONS),
        help="what to measure (default all)",
    )
    parser.add_argument("--suites", nargs="+", choices=list(SUITES), metavar="SUITE")
    parser.add_argument("--steps", type=int, help="env steps per suite measurement (default 5000; quick 500)")
    parser.add_argument("--repeats", type=int, help="measurements per figure, best kept (default 3; quick 1)")
    parser.add_argument("--methods", nargs="+", default=list(E2E_METHODS), help="methods for the e2e table")
    parser.add_argument(
        "--check",
        nargs="+",
        metavar="METHOD/PROFILE/SUITE",
        help=f"the check section's runs (default {' '.join(CHECK_ENTRIES)}; quick: random/smoke/point-nav)",
    )
    parser.add_argument(
        "--check-seconds", type=float, default=15.0, help="the length of each check run (default 15 s)"
    )
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
    parser.add_argument(
        "--check-child", nargs=4, metavar=("METHOD", "SUITE", "PROFILE", "ITERS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    if args.child:
        method, suite, profile, budget = args.child
        print(json.dumps(e2e_child(method, suite, profile, int(budget))))
        return 0
    if args.check_child:
        method, suite, profile, iterations = args.check_child
        print(json.dumps(check_child(method, suite, profile, int(iterations))))
        return 0

    quick = args.quick
    sections = set(args.sections)
    steps = args.steps or (500 if quick else 5000)
    repeats = args.repeats or (1 if quick else 3)
    profile = "smoke" if quick else "paper"
    workers = os.cpu_count() or 1
    figures: dict[str, Any] = {"quick": quick, "machine": machine()}
    if "compute" in sections:
        figures["compute"] = bench_compute(0.2 if quick else 1.0, repeats)
    if "suites" in sections:
        suites = args.suites or (["point-nav", E2E_SUITE] if quick else list(SUITES))
        figures["suites"] = bench_suites(suites, steps, repeats, rows=4, workers=workers)
    can_price = {"compute", "suites"} <= set(figures)
    if "check" in sections and can_price:
        entries = args.check or (["random/smoke/point-nav"] if quick else list(CHECK_ENTRIES))
        target = 1.0 if quick else args.check_seconds
        figures["check"] = bench_check(entries, figures, target, args.timeout)
    if "e2e" in sections:
        figures["e2e"] = bench_e2e(args.methods, profile, budget=1, timeout=args.timeout)
        if can_price:
            estimate_e2e(figures, profile)
    if "seeds" in sections:
        figures["seeds"] = bench_seeds(
            workers, "smoke" if quick else "quick", 400 if quick else 4000, args.timeout * 2
        )
    figures["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    if can_price:
        figures["cost"] = cost_section(figures)
    out = args.json if args.json else (None if quick else DEFAULT_JSON)
    if out is not None:
        write_bench_json(out, figures)
    print_report(figures)
    return 0


# ---- what every method's own micro-benchmark shares (agents/trmrl/bench.py, baselines/pearl/bench.py) ----


def method_bench_arguments(
    prog: str, description: str, what: str, argv: list[str] | None
) -> tuple[argparse.Namespace, int]:
    """Parse a method micro-benchmark's command line (``--quick``, ``--repeats``, ``--json``) and pin torch
    to one thread, as the harness runs it. Returns the arguments and the repeats per figure."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--quick", action="store_true", help=f"a sub-minute smoke run of {what}")
    parser.add_argument("--repeats", type=int, help="measurements per figure, best kept (default 3; quick 1)")
    parser.add_argument(
        "--json",
        type=Path,
        help=f"the bench JSON to add {what} to (default {DEFAULT_JSON}; quick: none)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    return args, args.repeats or (1 if args.quick else 3)


def add_to_bench_json(figures: dict[str, Any], args: argparse.Namespace) -> None:
    """Merge ``figures`` into the bench JSON ``--json`` names (default: the committed one; none for
    ``--quick``), keeping the sections the other benchmarks wrote."""
    out = args.json if args.json else (None if args.quick else DEFAULT_JSON)
    if out is not None:
        existing = json.loads(out.read_text()) if out.exists() else {}
        write_bench_json(out, {**existing, **figures})


def write_bench_json(out: Path, figures: dict[str, Any]) -> None:
    """Replace ``out`` with ``figures`` in one atomic step: the cost model reads this file, and a bench
    stopped mid-write must leave the previous figures whole."""
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, (json.dumps(figures, indent=2) + "\n").encode())


if __name__ == "__main__":
    raise SystemExit(main())
