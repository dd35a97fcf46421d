"""The one evaluation protocol every method is measured with.

N tasks of a split (the first N of its fixed task list, identical for every method of a seed), a trial of
K adaptation episodes each, deterministic actions, the return, success (where the suite defines it) and
length of every episode. The trials of a split run as one batch through the online interface of
:mod:`benchmark.agent`. Evaluation steps are not counted against the training budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.agent import MetaAgent, Transition
from benchmark.suites.base import SPLITS, Suite
from benchmark.trial import TrialBatch, make_trial_env


@dataclass(frozen=True)
class EvalSettings:
    """How an evaluation point is measured.

    Attributes:
        num_tasks: tasks per split (capped at the split's size).
        episodes: K, adaptation episodes per trial.
        splits: splits to evaluate, in order; those the suite lacks are skipped.
    """

    num_tasks: int
    episodes: int
    splits: tuple[str, ...] = SPLITS


@dataclass(frozen=True)
class EpisodeResult:
    split: str
    task_id: int
    task_param: float | None
    episode: int  # 1-based position in the trial
    episode_return: float
    success: float | None
    length: int


def evaluate(agent: MetaAgent, suite: Suite, settings: EvalSettings, seed: int) -> list[EpisodeResult]:
    """Run the protocol on every requested split of ``suite`` and return one result per episode.

    ``seed`` fixes the environments' reset noise, so every evaluation point of a run (and every method with
    the same seed) faces the same initial states. A task's reset seed depends on its split and index only,
    not on which other splits are evaluated.
    """
    results: list[EpisodeResult] = []
    for split in settings.splits:
        if split not in suite.splits:
            continue
        tasks = list(suite.tasks(split))[: settings.num_tasks]
        envs = [
            make_trial_env(suite, tasks, settings.episodes, seed=_reset_seed(seed, split, task.task_id))
            for task in tasks
        ]
        try:
            results.extend(_evaluate_batch(agent, TrialBatch(envs), tasks, suite.has_success))
        finally:
            for env in envs:
                env.close()
    return results


def _reset_seed(seed: int, split: str, task_id: int) -> int:
    return int(np.random.SeedSequence([seed, SPLITS.index(split), task_id]).generate_state(1)[0])


def _evaluate_batch(
    agent: MetaAgent, batch: TrialBatch, tasks: list, has_success: bool
) -> list[EpisodeResult]:
    results: list[EpisodeResult] = []
    obs, _ = batch.reset(tasks)
    agent.begin_trial(len(tasks))
    while batch.active.any():
        action = np.asarray(agent.act(obs, deterministic=True), dtype=np.float32)
        step = batch.step(action)
        agent.observe(
            Transition(
                obs, action, step.reward, step.final_obs, step.terminated, step.episode_end, step.active
            )
        )
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
                )
            )
        if step.episode_end.any():
            agent.end_episode(step.episode_end.copy())
        obs = step.obs
    return results
