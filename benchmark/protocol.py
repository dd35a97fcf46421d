"""The one evaluation protocol every method is measured with.

At an evaluation point, for each split: N tasks (stratified across task classes where the suite has them,
identical for every method of a seed; :func:`benchmark.tasks.evaluation_tasks`), one trial of K episodes
each, run as one batch through the online interface of :mod:`benchmark.agent`. The first E episodes of a
trial explore (sampled actions; MAML adapts after them, PEARL acts on its prior in them); the others act as
the suite's protocol says: the mean action for locomotion, sampled actions for Meta-World (what the
original evaluators did; ``SuiteEntry.eval_action_mode``). Every episode's return, success and length is
recorded, and optionally the reward of every step (the paper's online-adaptation figure). Evaluation steps
are not counted against the training budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from benchmark.agent import MetaAgent, Transition, TrialPlan
from benchmark.suites import SUITES
from benchmark.suites.base import SPLITS, Suite, Task
from benchmark.tasks import evaluation_tasks
from benchmark.trial import TrialBatch, make_trial_env

ActionMode = Literal["mean", "sample"]


@dataclass(frozen=True)
class EvalSettings:
    """How an evaluation point is measured.

    Attributes:
        num_tasks: trials per split; N larger than a split repeats its tasks with distinct reset seeds.
        episodes: K, episodes per trial.
        splits: splits to evaluate, in order; those the suite lacks are skipped.
        exploration_episodes: E, the first episodes of each trial that explore with sampled actions.
            ``None`` until resolved (the run resolves it from the method's default; see ``run.resolve_run``).
        action_mode: actions outside exploration episodes: ``mean`` or ``sample``; ``None`` means the
            suite's protocol (``SuiteEntry.eval_action_mode``).
        traces: which evaluation points record every step's reward (``traces.csv``).
    """

    num_tasks: int
    episodes: int
    splits: tuple[str, ...] = SPLITS
    exploration_episodes: int | None = None
    action_mode: ActionMode | None = None
    traces: Literal["final", "all", "none"] = "final"

    def __post_init__(self) -> None:
        if self.num_tasks < 1 or self.episodes < 1:
            raise ValueError(f"evaluation needs >= 1 task and episode, got {self}")
        if self.exploration_episodes is not None and not 0 <= self.exploration_episodes <= self.episodes:
            raise ValueError(f"exploration_episodes must lie in [0, {self.episodes}]")
        unknown = set(self.splits) - set(SPLITS)
        if unknown:
            raise ValueError(f"unknown split(s) {sorted(unknown)}; splits are {SPLITS}")

    @classmethod
    def from_record(cls, values: Mapping[str, Any]) -> EvalSettings:
        """The settings a run's manifest records (its spec's ``eval``, where JSON made ``splits`` a list)."""
        return cls(**{**values, "splits": tuple(values["splits"])})


@dataclass(frozen=True)
class EpisodeResult:
    split: str
    task_id: int
    task_param: float | None
    episode: int  # 1-based position in the trial
    episode_return: float
    success: float | None
    length: int
    task_name: str | None = None
    trial: int = 0  # 0-based index of the trial among the split's evaluated trials


@dataclass
class TrialTrace:
    """The reward of every step of one evaluation trial, and the 1-based episode each step belongs to."""

    split: str
    trial: int
    task_id: int
    task_name: str | None
    task_param: float | None
    rewards: list[float] = field(default_factory=list)
    episodes: list[int] = field(default_factory=list)


def resolved_action_mode(settings: EvalSettings, suite_name: str) -> ActionMode:
    """The settings' action mode, else the registered suite's; a suite outside the registry (a test's)
    acts on the mean."""
    if settings.action_mode is not None:
        return settings.action_mode
    entry = SUITES.get(suite_name)
    return entry.eval_action_mode if entry is not None else "mean"


def evaluate(
    agent: MetaAgent,
    suite: Suite,
    settings: EvalSettings,
    seed: int,
    traces: list[TrialTrace] | None = None,
) -> list[EpisodeResult]:
    """Run the protocol on every requested split of ``suite`` and return one result per episode.

    ``seed`` fixes the environments' reset noise and the agent's evaluation noise, so every evaluation
    point of a run (and every method with the same seed) faces the same tasks and initial states. A trial's
    reset seed depends on its split and trial index only, not on which other splits are evaluated.
    When ``traces`` is a list, one :class:`TrialTrace` per trial is appended to it.
    """
    deterministic_after_exploration = resolved_action_mode(settings, suite.name) == "mean"
    results: list[EpisodeResult] = []
    for split in settings.splits:
        if split not in suite.splits:
            continue
        tasks = evaluation_tasks(suite.tasks(split), settings.num_tasks)
        envs = [
            make_trial_env(suite, [task], settings.episodes, seed=_reset_seed(seed, split, j))
            for j, task in enumerate(tasks)
        ]
        plan = TrialPlan(
            num_trials=len(tasks),
            episodes=settings.episodes,
            exploration_episodes=settings.exploration_episodes or 0,
            seed=_reset_seed(seed, split, 2**20),
        )
        try:
            results.extend(
                _evaluate_batch(
                    agent,
                    TrialBatch(envs),
                    tasks,
                    plan,
                    deterministic_after_exploration,
                    suite.has_success,
                    traces,
                )
            )
        finally:
            for env in envs:
                env.close()
    return results


def _reset_seed(seed: int, split: str, trial: int) -> int:
    return int(np.random.SeedSequence([seed, SPLITS.index(split), trial]).generate_state(1)[0])


def _evaluate_batch(
    agent: MetaAgent,
    batch: TrialBatch,
    tasks: list[Task],
    plan: TrialPlan,
    deterministic_after_exploration: bool,
    has_success: bool,
    traces: list[TrialTrace] | None,
) -> list[EpisodeResult]:
    results: list[EpisodeResult] = []
    obs, _ = batch.reset(tasks)
    agent.begin_trial(plan)
    episode_index = np.zeros(len(tasks), dtype=np.int64)  # 0-based episode each row is playing
    trial_traces = [
        TrialTrace(task.split, j, task.task_id, task.class_name, task.param) for j, task in enumerate(tasks)
    ]
    while batch.active.any():
        deterministic = ~plan.explores(episode_index) & deterministic_after_exploration
        action = np.asarray(agent.act(obs, deterministic), dtype=np.float32)
        step = batch.step(action)
        agent.observe(
            Transition(
                obs, action, step.reward, step.final_obs, step.terminated, step.episode_end, step.active
            )
        )
        if traces is not None:
            for i in np.flatnonzero(step.active):
                trial_traces[i].rewards.append(float(step.reward[i]))
                trial_traces[i].episodes.append(int(episode_index[i]) + 1)
        for i in np.flatnonzero(step.episode_end):
            info = step.infos[i]
            results.append(
                EpisodeResult(
                    split=tasks[i].split,
                    task_id=tasks[i].task_id,
                    task_param=tasks[i].param,
                    episode=int(info["episode_index"]) + 1,
                    episode_return=float(info["episode_return"]),
                    success=float(info["episode_success"]) if has_success else None,
                    length=int(info["episode_length"]),
                    task_name=tasks[i].class_name,
                    trial=int(i),
                )
            )
        if step.episode_end.any():
            episode_index += step.episode_end & ~step.trial_end
            agent.end_episode(step.episode_end.copy())
        obs = step.obs
    if traces is not None:
        traces.extend(trial_traces)
    return results
