"""The cost model that ``sweep --dry-run`` and ``make bench`` print: CPU-hours of a grid of runs, from the
figures ``make bench`` measured (``results/bench/bench.json``). Torch-free: it only reads that JSON.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmark.registry import base_method

DEFAULT_JSON = Path(__file__).resolve().parents[1] / "results" / "bench" / "bench.json"
E2E_SUITE = "halfcheetah-vel"
"""the suite of the end-to-end figures; other suites swap in their own simulator rate"""


def estimate_cost(jobs: Iterable[Any], bench_json: Path = DEFAULT_JSON) -> tuple[float, str]:
    """CPU-hours of ``jobs`` (objects with ``method``, ``suite``, ``budget_env_steps``, e.g. ``RunSpec``).

    From the committed bench figures: a method's seconds per env step on halfcheetah-vel (``e2e``), with
    the simulator's share swapped for the job's suite (``1/e2e - 1/raw[halfcheetah-vel] + 1/raw[suite]``;
    suites without a figure keep halfcheetah's). Agent compute is taken as halfcheetah-vel's paper config
    for every suite: an estimate, not a promise. A method's steady rate is used where the bench has one
    (PEARL: without its first iteration's initial pool). A variant without a figure takes its base method's
    (same agent class); any other method without one, the slowest measured.
    Returns the total and a printable table per (method, suite).
    """
    figures = json.loads(Path(bench_json).read_text())
    suites, e2e = figures.get("suites", {}), figures.get("e2e", {})
    rates = {m: f.get("steady_steps_per_s", f["steps_per_s"]) for m, f in e2e.items() if "steps_per_s" in f}
    slowest = min(rates.values()) if rates else 100.0
    raw_ref = suites.get(E2E_SUITE, {}).get("raw")
    rows: dict[tuple[str, str], list[float]] = {}
    for job in jobs:
        rate = rates.get(job.method) or rates.get(base_method(job.method))  # a variant: its base's rate
        seconds_per_step = 1.0 / (rate or slowest)
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
