"""Our Meta-World success count against Meta-World's own ``metaworld.evaluation.evaluation``.

A scripted agent makes both counts predictable. On ml1-reach's first four meta_test goals (seed 0) it acts
as Meta-World's expert ``SawyerReachV3Policy`` (given the goal, which the suite hides from real agents) on
the rows of ``expert_rows`` and sends zero actions on the others; episodes last ``HORIZON`` = 60 steps.
The expert reaches goal j for the first time at step s_j (measured here: 45 and 36 for goals 0 and 3 with
metaworld 3.1.1 and mujoco 3.3.0, both within the horizon); a zero action leaves the hand at its start,
at least 20 cm from every reach goal (5 cm succeed), so those rows never succeed.

* **Ours**: every row plays K = 2 full episodes. Expert rows succeed in all of them, the others in none:
  ``ours = 2 * len(expert_rows)`` successes of N * K = 8, a rate of ``len(expert_rows) / 4``.
* **Meta-World's**: terminate-on-success ends an expert episode at step s_j, and the env restarts the
  same goal at once (reset is deterministic), so expert env j finishes episodes at steps s_j, 2 s_j, ...
  and a zero-action env at 60, 120, ... All four envs share one task name (``reach-v3``), and Meta-World
  counts the first M episodes of that name in the order its loop sees them (step, then env index),
  stopping at the step where the M-th ends. :func:`predicted_metaworld` merges those arithmetic
  sequences. With expert rows {0, 3} (s = 45, 36) and M = N * K = 8 the ends are 36 (env 3), 45 (0),
  60 (1), 60 (2), 72 (3), 90 (0), 108 (3), 120 (1) | 120 (2), ...: 5 successes of 8 (0.625 against our
  0.5), the loop stops at step 120, and env 2's episode ending at that step is played but not counted.
  With M = K = 2 (``num_episodes`` read as "per task", its default use) both counted episodes are the
  expert's: 1.0. Without any expert row every env plays K episodes of 60 steps in lockstep and both
  counts are 0 of 8: there the two protocols agree exactly.

The test measures s_j with our own task env (on the same float32 observations the agent sees) and asserts
the derived numbers, not the ones above. It builds only ML1 (cached after the first build), so it carries
no ``metaworld`` marker: the default ``make test`` runs it (seconds per case; the file about 20 s).
"""

from __future__ import annotations

import json
import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from metaworld.policies import SawyerReachV3Policy

from benchmark import metaworld_official, registry
from benchmark.agent import Transition, TrialPlan
from benchmark.config import config_to_dict
from benchmark.metaworld_official import build_parser, compare, config_from_dict, main
from benchmark.protocol import EvalSettings
from benchmark.request import resolve_run
from benchmark.run import execute_run
from benchmark.suites import META_TEST, make_suite
from benchmark.tasks import evaluation_tasks
from benchmark.trial import TrialLayout
from tests.help_text import help_problems

HORIZON = 60
TASKS, EPISODES = 4, 2
LAYOUT = TrialLayout(39, 4)


def _goal(task) -> np.ndarray:
    """reach-v3's goal: the last three entries of the task's placement vector (SawyerReachEnvV3)."""
    return pickle.loads(task.data.data)["rand_vec"][-3:]


class ScriptedReach:
    """Our agent contract around Meta-World's reach expert: the expert (told row i's goal) on
    ``expert_rows``, zero actions elsewhere; it also counts what the harness tells it."""

    def __init__(self, goals: list[np.ndarray], expert_rows: set[int]) -> None:
        self.goals, self.expert_rows = goals, expert_rows
        self.policy = SawyerReachV3Policy()
        self.begun = 0

    def action(self, row: int, obs: np.ndarray) -> np.ndarray:
        if row not in self.expert_rows:
            return np.zeros(4, dtype=np.float32)
        with_goal = np.asarray(obs, dtype=np.float32).copy()
        with_goal[-3:] = self.goals[row]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Constant(s) may be too high": the env clips, as intended
            return np.asarray(self.policy.get_action(with_goal), dtype=np.float32)

    def begin_trial(self, plan: TrialPlan) -> None:
        assert plan.num_trials == len(self.goals) and plan.episodes == EPISODES
        self.begun += 1
        self.observed_ends = self.ended = 0
        self.done_tokens = 0

    def act(self, obs: np.ndarray, deterministic: np.ndarray) -> np.ndarray:
        self.done_tokens += int(LAYOUT.done(obs).sum())
        return np.stack([self.action(i, LAYOUT.obs(obs[i])) for i in range(len(obs))])

    def observe(self, transition: Transition) -> None:
        assert transition.active.all()
        self.observed_ends += int(transition.episode_end.sum())

    def end_episode(self, mask: np.ndarray) -> None:
        self.ended += int(np.sum(mask))


def first_success_step(suite, task, agent: ScriptedReach, row: int) -> int | None:
    """The step at which ``agent``'s row ``row`` first succeeds on ``task`` within HORIZON, or None."""
    env = suite.make_env()
    env.set_task(task)
    obs, _ = env.reset(seed=0)
    try:
        for t in range(1, HORIZON + 1):
            obs, _, _, _, info = env.step(agent.action(row, np.asarray(obs, dtype=np.float32)))
            if info["success"]:
                return t
        return None
    finally:
        env.close()


def predicted_metaworld(lengths: list[int], successes: list[bool], m: int) -> tuple[int, int, list[int]]:
    """Meta-World's count when env i finishes an episode every ``lengths[i]`` steps, each a success iff
    ``successes[i]``: (successes among the first ``m`` episodes, the step its loop stops at, episodes each
    env finished by then). Episodes ending at one step are filed in env order."""
    ends = sorted((k * length, i) for i, length in enumerate(lengths) for k in range(1, m + 1))[:m]
    stop = ends[-1][0]
    return sum(successes[i] for _, i in ends), stop, [stop // length for length in lengths]


@pytest.mark.parametrize(("expert_rows", "num_episodes"), [({0, 3}, None), ({0, 3}, EPISODES), (set(), None)])
def test_metaworld_counts_the_envs_that_succeed_early_more_often(expert_rows, num_episodes):
    suite = make_suite("ml1-reach", 0)
    tasks = evaluation_tasks(suite.tasks(META_TEST), TASKS)
    assert [task.task_id for task in tasks] == [0, 1, 2, 3]
    agent = ScriptedReach([_goal(task) for task in tasks], expert_rows)
    steps = [first_success_step(suite, task, agent, row) for row, task in enumerate(tasks)]
    assert all((s is not None) == (row in expert_rows) for row, s in enumerate(steps)), steps

    lengths = [s if s is not None else HORIZON for s in steps]
    m = num_episodes or TASKS * EPISODES
    metaworld_successes, stop, played = predicted_metaworld(lengths, [s is not None for s in steps], m)

    settings = EvalSettings(num_tasks=TASKS, episodes=EPISODES, exploration_episodes=0)
    result = compare(agent, suite, settings, seed=0, num_episodes=num_episodes, horizon=HORIZON)

    (name,) = result.names
    assert name.task_name == "reach-v3" and name.trials == TASKS
    # Ours: every (task, episode) once.
    assert (name.ours_successes, name.ours_episodes) == (EPISODES * len(expert_rows), TASKS * EPISODES)
    assert [r.ours_successes for r in result.rows] == [EPISODES * (i in expert_rows) for i in range(TASKS)]
    # Meta-World's own number, and where its loop stopped.
    assert result.metaworld.rows == [0, 1, 2, 3]  # one env per task, in our trial order
    assert name.metaworld_num_episodes == m
    assert name.metaworld_rate == pytest.approx(metaworld_successes / m)
    assert result.metaworld.steps == stop
    assert [r.metaworld_played for r in result.rows] == played
    assert sum(r.metaworld_counted for r in result.rows) == m
    # The adapter played one trial per env and passed every episode end to the agent.
    assert agent.begun == 2  # ours, then Meta-World's
    assert agent.observed_ends == agent.ended == sum(played)
    assert (agent.done_tokens > 0) == bool(expert_rows)  # a success terminates: done = 1 in the next token


def test_the_derivation_on_the_measured_goals():
    """The numbers of the module docstring: expert on goals 0 and 3 (first success at 45 and 36)."""
    assert predicted_metaworld([45, 60, 60, 36], [True, False, False, True], 8) == (5, 120, [2, 2, 2, 3])
    assert predicted_metaworld([45, 60, 60, 36], [True, False, False, True], 2) == (2, 45, [1, 0, 0, 1])
    assert predicted_metaworld([60] * 4, [False] * 4, 8) == (0, 120, [2] * 4)


def test_our_meta_test_goals_are_metaworlds_ml1_test_goals():
    """``gym.make_vec("Meta-World/ML1-test")`` draws the same 50 goals, in the same order, as our split."""
    envs = gym.make_vec("Meta-World/ML1-test", env_name="reach-v3", seed=0, meta_batch_size=1)
    try:
        (theirs,) = envs.get_attr("tasks")
    finally:
        envs.close()
    assert [task.data for task in make_suite("ml1-reach", 0).tasks(META_TEST)] == list(theirs)


@pytest.mark.parametrize("method", registry.method_names())
def test_a_manifests_agent_config_rebuilds_the_config(method):
    config = registry.load_method(method).default_config("ml1-reach", "smoke")
    values = json.loads(json.dumps(config_to_dict(config)))
    assert config_from_dict(type(config), values) == config


def test_the_cli_prints_both_counts_for_a_runs_checkpoint(tmp_path, capsys):
    spec, config = resolve_run("random", "ml1-reach", 0, "smoke", budget_env_steps=100)
    outcome = execute_run(spec, config, tmp_path, progress=False)
    code = main(
        ["--checkpoint", str(outcome.run_dir / "checkpoint.pt"), "--horizon", "20", "--episodes", "2"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "| reach-v3 | 2 | 0 / 4 |" in out and "Meta-World: rate" in out
    assert main(["--checkpoint", str(outcome.run_dir), "--suite", "ml1-push"]) == 2
    assert "a run on ml1-reach" in capsys.readouterr().err


def test_the_action_mode_option_reaches_both_counts(tmp_path, capsys, monkeypatch):
    spec, config = resolve_run("random", "ml1-reach", 0, "smoke", budget_env_steps=100)
    outcome = execute_run(spec, config, tmp_path, progress=False)
    flags: list[np.ndarray] = []
    load_run = metaworld_official.load_run

    def recording_load_run(checkpoint, runtime=None):
        run = load_run(checkpoint, runtime)
        act = run.agent.act

        def recording_act(obs, deterministic):
            flags.append(np.broadcast_to(np.asarray(deterministic, dtype=bool), (len(obs),)).copy())
            return act(obs, deterministic)

        monkeypatch.setattr(run.agent, "act", recording_act)
        return run

    monkeypatch.setattr(metaworld_official, "load_run", recording_load_run)
    base = ["--checkpoint", str(outcome.run_dir), "--tasks", "2", "--horizon", "20", "--episodes", "2"]
    for mode, deterministic in (("mean", True), ("sample", False), (None, False)):  # None: the run's own
        flags.clear()
        assert main(base + ["--exploration-episodes", "0"] + (["--action-mode", mode] if mode else [])) == 0
        assert f"{mode or 'sample'} actions after" in capsys.readouterr().out
        acted = np.concatenate(flags)
        # every row of every step in that mode: ours (2 trials x 2 episodes x 20 steps), Meta-World's as many
        assert acted.size == 2 * (2 * 2 * 20) and set(acted.tolist()) == {deterministic}
    with pytest.raises(SystemExit) as refused:
        main(base + ["--action-mode", "greedy"])
    assert refused.value.code == 2
    assert "invalid choice: 'greedy'" in capsys.readouterr().err


def test_the_cli_summarises_every_completed_metaworld_run_of_a_runs_folder(tmp_path, capsys):
    runs = tmp_path / "runs"
    for method, suite in (("random", "ml1-reach"), ("random", "point-nav")):
        spec, config = resolve_run(method, suite, 0, "smoke", budget_env_steps=100)
        execute_run(spec, config, runs, progress=False)
    out = tmp_path / "official.md"
    argv = ["--runs-dir", str(runs), "--horizon", "20", "--episodes", "2", "--out", str(out)]
    assert main(argv) == 0
    summary = capsys.readouterr().out.strip().splitlines()
    assert (
        len(summary) == 3
        and "| random | ml1-reach | 0 | 2,000 | 0 / 4 | 0.000 | 0 / 4 | 0.000 | +0.000 |" in summary[2]
    ), summary
    written = out.read_text()
    assert written.startswith("\n".join(summary)) and "### random at 2,000 env steps" in written
    for other in ("ml1-push", "point-nav"):  # a run of another suite, or of no Meta-World suite, is left out
        assert main(["--runs-dir", str(runs), "--suite", other]) == 2
        assert "no completed Meta-World run" in capsys.readouterr().err
    assert main(["--checkpoint", str(runs), "--out", str(out)]) == 2
    assert "--out goes with --runs-dir" in capsys.readouterr().err
    assert main(["--runs-dir", str(tmp_path / "nowhere")]) == 2 and out.read_text() == written


def test_every_option_has_help_with_its_default():
    parser = build_parser()
    assert help_problems(parser, parser.format_help()) == []
