"""Our Meta-World success count beside Meta-World's own, for one agent on the same tasks.

Two counts of one agent (a run's checkpoint, or any object with our contract's ``begin_trial``, ``act``,
``observe`` and ``end_episode``) on the same evaluated tasks of a Meta-World suite:

* **ours** (:func:`benchmark.protocol.evaluate`): N trials, one task each, of K episodes; every episode
  runs to the horizon (no early termination) and succeeds if ``info["success"]`` is 1 at any step. Each
  (task, trial, episode) is counted once: a task name's rate is its successful episodes over its
  ``trials x K`` episodes.
* **Meta-World's** (``metaworld.evaluation.evaluation(agent, envs, num_episodes)``, metaworld 3.1.1): one
  Meta-World env per evaluated task, built by the function ``gym.make_vec("Meta-World/ML1-test", ...)``
  calls (``metaworld._make_ml_envs_inner`` with ``make_ml_envs_test``'s ``terminate_on_success=True`` and
  ``task_select="pseudorandom"``, same-step autoreset), given our evaluated tasks instead of a freshly
  drawn benchmark. All envs step in lockstep with terminate-on-success on, and each finished episode is
  filed under its env's *task name*; successes are counted among the first ``num_episodes`` episodes of
  each name in the order they finish (step, then env index), and the loop stops once every name has
  ``num_episodes``. An env whose agent succeeds early finishes short episodes one after another and fills
  more of its name's counted slots than an env that fails (rainx0r/metaworld-algorithms#10, open
  Farama-Foundation/Metaworld#577). For ML1 every env has the same name, so the counted episodes mix the
  goals in the order the envs finish.

``num_episodes`` defaults to the episodes ours counts per name (``trials x K``): both rates are then over
the same number of episodes of each name and differ only in which episodes those are. Per episode the
two agree on success: with terminate-on-success, an episode's last step is a success exactly when some
step of it was.

The adapter (:class:`MetaWorldAgentAdapter`) plays one trial per env for the whole of Meta-World's
``evaluation`` call: its first ``reset`` (every env) starts the trials (``begin_trial``), every later
``reset(dones)`` ends those envs' episodes (``end_episode``), so the agent keeps its memory across them
as in our trials, and the first E episodes of each env explore as in our protocol. It builds the
augmented observation ``[obs, previous action, previous reward, done]`` of :mod:`benchmark.trial` itself:
Meta-World's ``Agent.eval_action`` sees only observations, so the vector env is wrapped in a tap that
hands every step's rewards, terminations and final observations to the adapter and returns the step
unchanged. ``done`` is Meta-World's termination, which with terminate-on-success is the success itself
(our trial envs never terminate on Meta-World). An env may play more than K episodes in that call (every
success ends one); the trial simply goes on.

``python -m benchmark.metaworld_official --checkpoint RUN_DIR/checkpoint.pt`` prints the side-by-side
tables for a run; ``--runs-dir RUNS --out FILE.md`` a summary row for every completed Meta-World run of a
runs folder, and every run's tables (:func:`main`).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast, get_args

import gymnasium as gym
import metaworld
import numpy as np
from metaworld.env_dict import ALL_V3_ENVIRONMENTS
from metaworld.evaluation import evaluation as metaworld_evaluation

from benchmark.agent import EnvSpec, MetaAgent, Runtime, Transition, TrialPlan
from benchmark.config import config_to_dict
from benchmark.errors import BenchmarkError
from benchmark.protocol import ActionMode, EvalSettings, _reset_seed, evaluate, resolved_action_mode
from benchmark.suites.base import META_TEST, SPLITS, Suite, Task
from benchmark.tasks import evaluation_tasks
from benchmark.trial import TrialLayout


class MetaWorldAgentAdapter:
    """An agent of our contract behind Meta-World's ``metaworld.evaluation.Agent`` protocol.

    Meta-World calls ``reset(all envs)`` once before its first ``eval_action`` (here: ``begin_trial`` for one
    trial per env), then per step ``eval_action(observations)`` and ``reset(dones)`` (here: ``act`` on the
    augmented observations, and ``end_episode`` for the envs whose episode ended). :meth:`observe_step`
    must see every step of the vector env (the tap of :func:`run_metaworld_evaluation` calls it): it
    passes the step to the agent's ``observe`` and keeps the last action, reward and termination of each
    env for the next augmented observation. Use one adapter per ``evaluation`` call.
    """

    def __init__(
        self, agent: MetaAgent, layout: TrialLayout, plan: TrialPlan, deterministic_after_exploration: bool
    ) -> None:
        self.agent, self.layout, self.plan = agent, layout, plan
        self.deterministic_after_exploration = deterministic_after_exploration
        n = plan.num_trials
        self.started = False
        self.episode_index = np.zeros(n, dtype=np.int64)  # 0-based episode each env is playing
        self._tail = np.zeros((n, layout.act_dim + 2), dtype=np.float32)  # [prev action, prev reward, done]
        self._obs: np.ndarray | None = None
        self._action: np.ndarray | None = None

    def reset(self, env_mask: np.ndarray) -> None:
        mask = np.asarray(env_mask, dtype=bool)
        if mask.shape != (self.plan.num_trials,):
            raise ValueError(f"reset mask of shape {mask.shape} for {self.plan.num_trials} envs")
        if not self.started:
            if not mask.all():
                raise RuntimeError("Meta-World's evaluation starts by resetting every env")
            self.agent.begin_trial(self.plan)
            self.started = True
            return
        if mask.any():
            self.episode_index += mask
            self.agent.end_episode(mask.copy())

    def eval_action(self, observations: np.ndarray) -> np.ndarray:
        if not self.started:
            raise RuntimeError("eval_action before the first reset")
        obs = np.asarray(observations, dtype=np.float32).reshape(self.plan.num_trials, -1)
        if obs.shape[1] != self.layout.obs_dim:
            raise ValueError(f"observations of width {obs.shape[1]}, the agent expects {self.layout.obs_dim}")
        self._obs = np.concatenate([obs, self._tail], axis=1)
        deterministic = ~self.plan.explores(self.episode_index) & self.deterministic_after_exploration
        self._action = np.asarray(self.agent.act(self._obs, deterministic), dtype=np.float32)
        return self._action

    def observe_step(
        self,
        observations: np.ndarray,
        rewards: np.ndarray,
        terminations: np.ndarray,
        truncations: np.ndarray,
        infos: dict[str, Any],
    ) -> None:
        """What the vector env returned for the last :meth:`eval_action`; ``observations`` of the envs that
        finished an episode are already the next episode's first (same-step autoreset)."""
        if self._obs is None or self._action is None:
            raise RuntimeError("a step without an eval_action before it")
        n = self.plan.num_trials
        reward = np.asarray(rewards, dtype=np.float64)
        terminated = np.asarray(terminations, dtype=bool)
        episode_end = terminated | np.asarray(truncations, dtype=bool)
        tail = np.concatenate(
            [self._action, reward[:, None].astype(np.float32), terminated[:, None].astype(np.float32)], axis=1
        )
        successor = np.asarray(observations, dtype=np.float32).reshape(n, -1).copy()
        for i in np.flatnonzero(episode_end):
            successor[i] = np.asarray(infos["final_obs"][i], dtype=np.float32)
        next_obs = np.concatenate([successor, tail], axis=1)
        self.agent.observe(
            Transition(self._obs, self._action, reward, next_obs, terminated, episode_end, np.ones(n, bool))
        )
        self._tail = tail


@dataclass(frozen=True)
class EpisodeEnd:
    """One episode Meta-World's envs finished, in the order Meta-World's loop files it."""

    step: int  # the vector step (1-based) it ended at
    env: int
    success: bool
    length: int


class _StepTap:
    """Meta-World's vector env, unchanged, whose steps are also handed to the adapter and logged."""

    def __init__(self, envs: gym.vector.VectorEnv, adapter: MetaWorldAgentAdapter) -> None:
        self._envs = envs
        self._adapter = adapter
        self.steps = 0
        self.episode_ends: list[EpisodeEnd] = []

    def step(self, actions: np.ndarray) -> tuple[Any, ...]:
        result = self._envs.step(actions)
        observations, rewards, terminations, truncations, infos = result
        self.steps += 1
        self._adapter.observe_step(observations, rewards, terminations, truncations, infos)
        for i in np.flatnonzero(np.logical_or(terminations, truncations)):
            final = infos["final_info"]
            self.episode_ends.append(
                EpisodeEnd(self.steps, int(i), bool(final["success"][i]), int(final["episode"]["l"][i]))
            )
        return result

    def __getattr__(self, name: str) -> Any:  # reset, call, get_attr, num_envs: Meta-World's own
        return getattr(self._envs, name)


class _GivenTasks(metaworld.Benchmark):
    """A Meta-World benchmark whose test split is the given tasks (ours, already drawn)."""

    def __init__(self, tasks: Sequence[metaworld.Task]) -> None:
        names = list(dict.fromkeys(task.env_name for task in tasks))
        classes = {name: ALL_V3_ENVIRONMENTS[name] for name in names}
        self._train_classes = self._test_classes = cast(Any, classes)
        self._train_tasks, self._test_tasks = [], list(tasks)


def metaworld_eval_envs(tasks: Sequence[Task], seed: int, horizon: int) -> gym.vector.SyncVectorEnv:
    """One Meta-World env per task, as ``gym.make_vec("Meta-World/ML1-test", ...)`` builds its envs.

    Meta-World's registration calls ``make_ml_envs_test`` = ``make_ml_envs(terminate_on_success=True,
    task_select="pseudorandom", split="test")``, which draws the benchmark (``metaworld.ML1(name, seed)``)
    and hands it to ``_make_ml_envs_inner``; here the benchmark's test split is ``tasks`` and
    ``meta_batch_size`` is their number, so every env holds exactly one task (``sample_tasks`` sets it).
    Envs come grouped by task class, in the order the classes first appear in ``tasks`` (Meta-World's
    order); :func:`env_rows` maps them back to ``tasks``. ``max_episode_steps`` is ``horizon``.
    """
    data = [task.data for task in tasks]
    if not all(isinstance(d, metaworld.Task) for d in data):
        raise BenchmarkError("Meta-World's evaluation runs on Meta-World suites only (ml1-*, ml10, ml45)")
    counts: dict[str, int] = defaultdict(int)
    for d in data:
        counts[d.env_name] += 1
    if len(set(counts.values())) != 1:
        raise BenchmarkError(
            f"Meta-World's vector envs need the same number of tasks per class; got {dict(counts)} "
            "(choose a number of tasks that is a multiple of the classes)"
        )
    envs = metaworld._make_ml_envs_inner(
        _GivenTasks(data),
        meta_batch_size=len(data),
        seed=seed,
        split="test",
        vector_strategy="sync",
        terminate_on_success=True,
        task_select="pseudorandom",
        max_episode_steps=horizon,
    )
    envs.call("sample_tasks")  # as metalearning_evaluation does; one task per env, so it sets that task
    return cast(gym.vector.SyncVectorEnv, envs)


def env_rows(envs: gym.vector.SyncVectorEnv, tasks: Sequence[Task]) -> list[int]:
    """For each of Meta-World's envs, the index in ``tasks`` of the task it plays (repeats matched in
    order)."""
    free: dict[tuple[str, bytes], list[int]] = defaultdict(list)
    for row, task in enumerate(tasks):
        free[(task.data.env_name, task.data.data)].append(row)
    rows = []
    for env_tasks in envs.get_attr("tasks"):
        (only,) = env_tasks
        rows.append(free[(only.env_name, only.data)].pop(0))
    return rows


@dataclass(frozen=True)
class MetaWorldOutcome:
    """What Meta-World's ``evaluation`` returned, and what the tap saw."""

    mean_success_rate: float
    success_rate_per_task: dict[str, float]
    num_episodes: int
    task_names: list[str]  # of each env, Meta-World's order
    rows: list[int]  # of each env: the index of its task in the evaluated tasks
    episode_ends: list[EpisodeEnd]
    steps: int

    def counted(self) -> list[tuple[EpisodeEnd, bool]]:
        """Every finished episode and whether Meta-World counted it (among the first ``num_episodes`` of
        its task name, in the order its loop sees them)."""
        seen: dict[str, int] = defaultdict(int)
        marks = []
        for end in self.episode_ends:
            name = self.task_names[end.env]
            seen[name] += 1
            marks.append((end, seen[name] <= self.num_episodes))
        return marks


def run_metaworld_evaluation(
    agent: MetaAgent,
    suite: Suite,
    tasks: Sequence[Task],
    settings: EvalSettings,
    seed: int,
    split: str,
    num_episodes: int,
) -> MetaWorldOutcome:
    """``metaworld.evaluation.evaluation`` of ``agent`` on one Meta-World env per task in ``tasks``."""
    envs = metaworld_eval_envs(tasks, seed, suite.horizon)
    try:
        rows = env_rows(envs, tasks)
        obs_space, act_space = envs.single_observation_space, envs.single_action_space
        assert isinstance(obs_space, gym.spaces.Box) and isinstance(act_space, gym.spaces.Box)
        layout = TrialLayout(int(np.prod(obs_space.shape)), int(np.prod(act_space.shape)))
        plan = TrialPlan(
            num_trials=len(tasks),
            episodes=settings.episodes,
            exploration_episodes=settings.exploration_episodes or 0,
            seed=_reset_seed(seed, split, 2**20),  # the protocol's evaluation-noise seed for the split
        )
        adapter = MetaWorldAgentAdapter(
            agent, layout, plan, resolved_action_mode(settings, suite.name) == "mean"
        )
        tap = _StepTap(envs, adapter)
        mean_rate, _, per_task, _ = metaworld_evaluation(adapter, cast(Any, tap), num_episodes)
        names = _task_names(envs)
    finally:
        envs.close()
    outcome = MetaWorldOutcome(
        float(mean_rate), dict(per_task), num_episodes, names, rows, tap.episode_ends, tap.steps
    )
    _check_recount(outcome)
    return outcome


def _task_names(envs: gym.vector.SyncVectorEnv) -> list[str]:
    """Each env's task name, as ``metaworld.evaluation._get_task_names`` reads it."""
    by_class = {cls.__name__: name for name, cls in ALL_V3_ENVIRONMENTS.items()}
    return [by_class[name] for name in envs.get_attr("task_name")]


def _check_recount(outcome: MetaWorldOutcome) -> None:
    """The tap's log, counted by Meta-World's rule, must give Meta-World's own rates."""
    successes: dict[str, int] = defaultdict(int)
    for end, counted in outcome.counted():
        successes[outcome.task_names[end.env]] += int(counted and end.success)
    for name, rate in outcome.success_rate_per_task.items():
        if successes[name] != round(rate * outcome.num_episodes):
            raise RuntimeError(
                f"{name}: Meta-World reports {rate} over {outcome.num_episodes} episodes, "
                f"the tap counts {successes[name]} successes"
            )


@dataclass(frozen=True)
class RowComparison:
    """One evaluated task (our trial ``row``, one Meta-World env)."""

    row: int
    task: Task
    ours_successes: int
    ours_episodes: int
    metaworld_counted: int  # this env's episodes among those Meta-World counted
    metaworld_counted_successes: int
    metaworld_played: int  # episodes this env finished before Meta-World's loop stopped
    metaworld_played_successes: int


@dataclass(frozen=True)
class NameComparison:
    """One task name (a Meta-World task class): the unit Meta-World reports."""

    task_name: str
    trials: int
    ours_successes: int
    ours_episodes: int
    metaworld_rate: float  # Meta-World's own number
    metaworld_num_episodes: int
    metaworld_played: int

    @property
    def ours_rate(self) -> float:
        return self.ours_successes / self.ours_episodes

    @property
    def metaworld_successes(self) -> int:
        return round(self.metaworld_rate * self.metaworld_num_episodes)


@dataclass(frozen=True)
class Comparison:
    """Both counts of one agent on the same evaluated tasks of a suite's split."""

    suite: str
    split: str
    seed: int
    horizon: int
    settings: EvalSettings
    names: list[NameComparison]
    rows: list[RowComparison]
    metaworld: MetaWorldOutcome

    @property
    def ours_mean_success_rate(self) -> float:
        """The mean over task names of our per-name rates (Meta-World's way of averaging)."""
        return float(np.mean([name.ours_rate for name in self.names]))

    def table(self) -> str:
        """The side-by-side tables (Markdown): per task name, then per evaluated task."""
        s = self.settings
        mode = resolved_action_mode(s, self.suite)
        lines = [
            f"{self.suite}, {self.split}, seed {self.seed}: {len(self.rows)} tasks x {s.episodes} episodes "
            f"(first {s.exploration_episodes or 0} exploring, {mode} actions after), "
            f"horizon {self.horizon}; Meta-World counts the "
            f"first {self.metaworld.num_episodes} episodes of each task name "
            f"({self.metaworld.steps} steps per env)",
            "",
        ]
        lines += _markdown(
            [
                "task name",
                "trials",
                "ours: successes / episodes",
                "ours: rate",
                "Meta-World: successes / counted",
                "Meta-World: rate",
                "Meta-World: episodes played",
            ],
            [
                [
                    n.task_name,
                    str(n.trials),
                    f"{n.ours_successes} / {n.ours_episodes}",
                    f"{n.ours_rate:.3f}",
                    f"{n.metaworld_successes} / {n.metaworld_num_episodes}",
                    f"{n.metaworld_rate:.3f}",
                    str(n.metaworld_played),
                ]
                for n in self.names
            ]
            + [
                [
                    "mean",
                    "",
                    "",
                    f"{self.ours_mean_success_rate:.3f}",
                    "",
                    f"{self.metaworld.mean_success_rate:.3f}",
                    "",
                ]
            ],
        )
        lines.append("")
        lines += _markdown(
            [
                "trial",
                "task",
                "ours: successes / episodes",
                "Meta-World: counted successes / episodes",
                "Meta-World: played successes / episodes",
            ],
            [
                [
                    str(r.row),
                    r.task.name,
                    f"{r.ours_successes} / {r.ours_episodes}",
                    f"{r.metaworld_counted_successes} / {r.metaworld_counted}",
                    f"{r.metaworld_played_successes} / {r.metaworld_played}",
                ]
                for r in self.rows
            ],
        )
        return "\n".join(lines)


def _markdown(header: list[str], rows: list[list[str]]) -> list[str]:
    def cells(row: list[str]) -> str:
        return "| " + " | ".join(row) + " |"

    return [cells(header), "|" + "|".join(["---"] * len(header)) + "|"] + [cells(row) for row in rows]


def compare(
    agent: MetaAgent,
    suite: Suite,
    settings: EvalSettings,
    seed: int,
    *,
    split: str = META_TEST,
    num_episodes: int | None = None,
    horizon: int | None = None,
) -> Comparison:
    """Evaluate ``agent`` on ``split`` of ``suite`` with our protocol, then with Meta-World's ``evaluation``.

    Both play the same ``settings.num_tasks`` tasks (:func:`benchmark.tasks.evaluation_tasks`) with
    ``settings.episodes`` episodes per trial, the first ``settings.exploration_episodes`` exploring, and the
    protocol's evaluation-noise seed. ``num_episodes`` (Meta-World's per task name) defaults to the episodes
    ours counts per name; ``horizon`` (at most Meta-World's 500) shortens every episode in both.
    """
    if split not in suite.splits:
        raise BenchmarkError(f"suite {suite.name!r} has no split {split!r}; it has {sorted(suite.splits)}")
    if horizon is not None:
        if not 1 <= horizon <= suite.horizon:
            raise BenchmarkError(f"horizon must lie in [1, {suite.horizon}], got {horizon}")
        suite = dataclasses.replace(suite, horizon=horizon)
    settings = dataclasses.replace(
        settings, splits=(split,), exploration_episodes=settings.exploration_episodes or 0
    )
    tasks = evaluation_tasks(suite.tasks(split), settings.num_tasks)
    trials_per_name: dict[str, int] = defaultdict(int)
    for task in tasks:
        trials_per_name[str(task.class_name)] += 1
    if num_episodes is None:
        num_episodes = min(trials_per_name.values()) * settings.episodes
    if num_episodes < 1:
        raise BenchmarkError(f"num_episodes must be >= 1, got {num_episodes}")

    results = evaluate(agent, suite, settings, seed)
    ours_successes, ours_episodes = np.zeros(len(tasks), np.int64), np.zeros(len(tasks), np.int64)
    for result in results:
        ours_episodes[result.trial] += 1
        ours_successes[result.trial] += int(bool(result.success))

    outcome = run_metaworld_evaluation(agent, suite, tasks, settings, seed, split, num_episodes)
    counted = np.zeros(len(tasks), np.int64)
    counted_successes, played, played_successes = (
        np.zeros_like(counted),
        np.zeros_like(counted),
        np.zeros_like(counted),
    )
    for end, was_counted in outcome.counted():
        row = outcome.rows[end.env]
        played[row] += 1
        played_successes[row] += int(end.success)
        if was_counted:
            counted[row] += 1
            counted_successes[row] += int(end.success)

    rows = [
        RowComparison(
            row,
            task,
            int(ours_successes[row]),
            int(ours_episodes[row]),
            int(counted[row]),
            int(counted_successes[row]),
            int(played[row]),
            int(played_successes[row]),
        )
        for row, task in enumerate(tasks)
    ]
    names = []
    for name, trials in trials_per_name.items():
        mine = [r for r in rows if r.task.class_name == name]
        names.append(
            NameComparison(
                name,
                trials,
                sum(r.ours_successes for r in mine),
                sum(r.ours_episodes for r in mine),
                float(outcome.success_rate_per_task[name]),
                num_episodes,
                sum(r.metaworld_played for r in mine),
            )
        )
    return Comparison(suite.name, split, seed, suite.horizon, settings, names, rows, outcome)


# ---- a run's checkpoint ------------------------------------------------------------------------------


def config_from_dict(config_class: type, values: dict[str, Any]) -> Any:
    """The config dataclass a run's manifest recorded as ``agent_config`` (JSON lists back to tuples)."""
    hints = typing.get_type_hints(config_class)
    fields = [f.name for f in dataclasses.fields(config_class)]
    missing = [name for name in fields if name not in values]
    extra = [name for name in values if name not in fields]
    if missing or extra:
        raise BenchmarkError(
            f"the run's agent_config does not fit {config_class.__name__}: missing {missing}, unknown {extra}"
        )
    config = config_class(**{name: _typed(values[name], hints[name]) for name in fields})
    if config_to_dict(config) != values:
        raise BenchmarkError(f"the run's agent_config does not round-trip through {config_class.__name__}")
    return config


def _typed(value: Any, hint: Any) -> Any:
    """``value`` from JSON as the field's type wants it: a list becomes a tuple where the hint is a tuple."""
    if not isinstance(value, list):
        return value
    candidates = [hint, *typing.get_args(hint)] if typing.get_origin(hint) is not tuple else [hint]
    for candidate in candidates:
        if typing.get_origin(candidate) is tuple:
            args = typing.get_args(candidate)
            inner = args[0] if len(args) == 2 and args[1] is Ellipsis else Any
            return tuple(_typed(item, inner) for item in value)
    return value


@dataclass(frozen=True)
class LoadedRun:
    """A run's agent, loaded from its checkpoint, with what its manifest says about it."""

    agent: MetaAgent
    suite: Suite
    method: str
    seed: int
    settings: EvalSettings
    env_steps: int
    run_dir: Path
    default_exploration_episodes: int  # the method's E on this suite, before the harness caps it at K - 1


def load_run(checkpoint: Path, runtime: Runtime | None = None) -> LoadedRun:
    """The agent of a run folder's ``checkpoint.pt`` (``checkpoint`` is the file or the folder), built as
    the run built it: the manifest's method, suite, seed and ``agent_config``."""
    from benchmark import registry
    from benchmark.results.store import CHECKPOINT_FILE, read_manifest
    from benchmark.run import load_checkpoint
    from benchmark.suites import make_suite

    run_dir = checkpoint if checkpoint.is_dir() else checkpoint.parent
    checkpoint_file = run_dir / CHECKPOINT_FILE if checkpoint.is_dir() else checkpoint
    spec = read_manifest(run_dir).get("spec")
    if not isinstance(spec, dict):
        raise BenchmarkError(f"{run_dir}: the manifest has no run spec")
    suite = make_suite(spec["suite"], int(spec["seed"]))
    factory = registry.load_method(spec["method"])
    config = config_from_dict(factory.Config, spec["agent_config"])
    agent = factory(config, EnvSpec.from_suite(suite), int(spec["seed"]), runtime or Runtime())
    state = load_checkpoint(checkpoint_file)
    agent.load_state_dict(state["agent"])
    return LoadedRun(
        agent,
        suite,
        spec["method"],
        int(spec["seed"]),
        EvalSettings.from_record(spec["eval"]),
        int(state["env_steps"]),
        run_dir,
        int(factory.default_exploration_episodes(suite.name)),
    )


def completed_runs(runs_dir: Path, suite: str | None = None) -> list[Path]:
    """The completed Meta-World runs under ``runs_dir`` (``suite`` keeps one suite), in folder order."""
    from benchmark.results.store import read_manifest, run_dirs
    from benchmark.suites import suites_of

    wanted = [name for name in suites_of("metaworld") if suite is None or name == suite]
    chosen = []
    for run_dir in run_dirs(runs_dir):
        manifest = read_manifest(run_dir)
        if manifest.get("status") == "completed" and (manifest.get("spec") or {}).get("suite") in wanted:
            chosen.append(run_dir)
    return chosen


def runs_summary(compared: Sequence[tuple[LoadedRun, Comparison]]) -> str:
    """One row per run (Markdown): both counts at its last checkpoint, mean over task names, and the
    difference Meta-World's minus ours."""
    rows = []
    for run, result in compared:
        mw_rate, ours_rate = result.metaworld.mean_success_rate, result.ours_mean_success_rate
        rows.append(
            [
                run.method,
                run.suite.name,
                str(run.seed),
                f"{run.env_steps:,}",
                f"{sum(n.ours_successes for n in result.names)} / "
                f"{sum(n.ours_episodes for n in result.names)}",
                f"{ours_rate:.3f}",
                f"{sum(n.metaworld_successes for n in result.names)} / "
                f"{sum(n.metaworld_num_episodes for n in result.names)}",
                f"{mw_rate:.3f}",
                f"{mw_rate - ours_rate:+.3f}",
            ]
        )
    header = [
        "method",
        "suite",
        "seed",
        "env steps",
        "ours: successes / episodes",
        "ours: rate",
        "Meta-World: successes / counted",
        "Meta-World: rate",
        "Meta-World − ours",
    ]
    return "\n".join(_markdown(header, rows))


def build_parser() -> argparse.ArgumentParser:
    """The command line of :func:`main`."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmark.metaworld_official",
        description="A run's Meta-World success rates by our protocol and by metaworld.evaluation.evaluation",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", type=Path, help="a run's checkpoint.pt, or its folder")
    source.add_argument(
        "--runs-dir", type=Path, help="every completed Meta-World run in this folder, a summary row each"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="with --runs-dir: also write the summary and every run's tables here (Markdown)",
    )
    parser.add_argument(
        "--suite", help="the run's suite (checked; default: the manifest's); with --runs-dir: only this suite"
    )
    parser.add_argument("--split", default=META_TEST, choices=SPLITS, help="default meta_test")
    parser.add_argument("--tasks", type=int, help="N evaluated tasks (default: the run's protocol)")
    parser.add_argument("--episodes", type=int, help="K episodes per trial (default: the run's protocol)")
    parser.add_argument(
        "--exploration-episodes",
        type=int,
        help="E exploring episodes (default: the run's, or the method's capped at K - 1 with --episodes)",
    )
    parser.add_argument(
        "--num-episodes", type=int, help="Meta-World's episodes per task name (default: trials per name x K)"
    )
    parser.add_argument("--horizon", type=int, help="shorter episodes in both (default: the suite's 500)")
    parser.add_argument("--seed", type=int, help="evaluation seed (default: the run's)")
    parser.add_argument(
        "--action-mode",
        choices=get_args(ActionMode),
        help="actions after exploring, in both counts (default: the run's; sample on Meta-World)",
    )
    return parser


def _compare_run(args: argparse.Namespace, checkpoint: Path) -> tuple[LoadedRun, Comparison]:
    run = load_run(checkpoint)
    if args.suite is not None and args.suite != run.suite.name:
        raise BenchmarkError(f"the checkpoint is a run on {run.suite.name}, not {args.suite}")
    exploration = args.exploration_episodes
    if exploration is None and args.episodes is not None:
        # the method's E for this K, capped as a run resolves it (benchmark.request)
        exploration = max(0, min(run.default_exploration_episodes, args.episodes - 1))
    changes = {
        "num_tasks": args.tasks,
        "episodes": args.episodes,
        "exploration_episodes": exploration,
        "action_mode": args.action_mode,
    }
    try:
        settings = dataclasses.replace(
            run.settings, **{key: value for key, value in changes.items() if value is not None}
        )
    except ValueError as exc:
        raise BenchmarkError(str(exc)) from None
    result = compare(
        run.agent,
        run.suite,
        settings,
        run.seed if args.seed is None else args.seed,
        split=args.split,
        num_episodes=args.num_episodes,
        horizon=args.horizon,
    )
    return run, result


def _title(run: LoadedRun) -> str:
    return f"{run.method} at {run.env_steps:,} env steps ({run.run_dir.name})"


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmark.metaworld_official --checkpoint RUN_DIR/checkpoint.pt``: print both counts;
    ``--runs-dir RUNS [--out FILE.md]``: a summary row for every completed Meta-World run there."""
    args = build_parser().parse_args(argv)
    try:
        if args.out is not None and args.runs_dir is None:
            raise BenchmarkError("--out goes with --runs-dir")
        if args.runs_dir is not None:
            from benchmark.files import atomic_write_bytes

            folders = completed_runs(args.runs_dir, args.suite)
            if not folders:
                raise BenchmarkError(f"{args.runs_dir}: no completed Meta-World run")
            compared = [_compare_run(args, folder) for folder in folders]
            summary = runs_summary(compared)
            print(summary)
            if args.out is not None:
                parts = [summary, ""] + [
                    f"### {_title(run)}\n\n{result.table()}\n" for run, result in compared
                ]
                try:
                    atomic_write_bytes(args.out, "\n".join(parts).encode())
                except OSError as exc:
                    raise BenchmarkError(f"cannot write {args.out}: {exc.strerror or exc}") from None
            return 0
        run, result = _compare_run(args, args.checkpoint)
    except BenchmarkError as exc:
        print(f"benchmark.metaworld_official: {exc}", file=sys.stderr)
        return 2
    print(_title(run))
    print(result.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
