"""The rows a run writes: one evaluation's episode metrics and per-step traces, in the tables' columns
(:mod:`benchmark.results.schema`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmark.protocol import EpisodeResult, TrialTrace
    from benchmark.request import RunSpec


def trial_key(spec: RunSpec, env_steps: int, trial: EpisodeResult | TrialTrace) -> dict[str, Any]:
    """The columns that say which run, evaluation point and trial a row belongs to (both tables)."""
    return {
        "run_id": spec.run_id,
        "method": spec.method,
        "suite": spec.suite,
        "split": trial.split,
        "seed": spec.seed,
        "env_steps": env_steps,
        "trial": trial.trial,
        "task_id": trial.task_id,
        "task_name": trial.task_name,
        "task_param": trial.task_param,
    }


def metric_rows(spec: RunSpec, env_steps: int, results: list[EpisodeResult]) -> list[dict[str, Any]]:
    """The ``metrics.csv`` rows of one evaluation: return, length and (where reported) success per episode."""
    rows = []
    for r in results:
        base = {**trial_key(spec, env_steps, r), "episode": r.episode}
        rows.append({**base, "metric": "return", "value": r.episode_return})
        rows.append({**base, "metric": "episode_length", "value": float(r.length)})
        if r.success is not None:
            rows.append({**base, "metric": "success", "value": r.success})
    return rows


def step_trace_rows(spec: RunSpec, env_steps: int, traces: list[TrialTrace]) -> list[dict[str, Any]]:
    """The ``traces.csv`` rows of one evaluation: the reward of every step of every recorded trial."""
    rows = []
    for trace in traces:
        base = trial_key(spec, env_steps, trace)
        for step, (reward, episode) in enumerate(zip(trace.rewards, trace.episodes, strict=True)):
            rows.append({**base, "episode": episode, "step": step, "reward": reward})
    return rows


def evaluation_scores(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Mean of each ``split/metric`` over one evaluation's rows (every episode of every trial), for a
    dashboard; the analysis reads the rows themselves."""
    sums: dict[str, list[float]] = {}
    for row in rows:
        sums.setdefault(f"{row['split']}/{row['metric']}", []).append(float(row["value"]))
    return {name: sum(values) / len(values) for name, values in sums.items()}
