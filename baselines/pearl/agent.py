"""PEARL (Rakelly et al. 2019, arXiv 1903.08254) as its own code, oyster, runs it.

An off-policy meta-RL agent: a context encoder infers a posterior over a latent task variable ``z`` from
transitions ``(obs, action, reward)`` of the current task, and a SAC actor and critics conditioned on ``z``
act and learn (:mod:`baselines.pearl.sac`). The networks see the raw observation (``spec.layout.obs``); the
trial token's previous-action/reward slots are not used, since the context carries that information.

Meta-training (oyster ``rlkit/core/rl_algorithm.py`` ``train``): a fixed set of ``num_train_tasks`` opaque
meta_train ids is drawn once; each has its own RL buffer and encoder buffer (:mod:`baselines.pearl.buffers`).
Iteration 0 first collects ``num_initial_steps`` per training task with z from the prior (both buffers). Every
iteration then draws ``num_tasks_sample`` training tasks; for each, its encoder buffer is cleared, then it
collects ``num_steps_prior`` steps with z ~ prior (both buffers), ``num_steps_posterior`` with z ~ posterior
(both) and ``num_extra_rl_steps_posterior`` with z ~ posterior (RL buffer only), the posterior inferred from
the task's encoder buffer after every ``update_post_train`` episodes (the first of those episodes acts on the
prior, as oyster's ``collect_data`` starts with ``clear_z``). Then ``num_train_steps_per_itr`` gradient steps,
each on ``meta_batch`` tasks drawn with replacement. One ``yield`` per iteration.

Collection steps all the drawn tasks together, one task per row of a :class:`~benchmark.trial.TrialBatch`,
one whole episode per round (oyster's ``InPlacePathSampler`` also collects whole episodes, so a phase may
overshoot its step count by part of an episode). A time-limit cut is not a termination: the Bellman target
bootstraps through it (Meta-World#43); only a true termination (an Ant falling) stores ``terminal = 1``.

Evaluation (oyster ``collect_paths``, the online protocol): ``begin_trial`` empties every row's context and
draws z from the prior; ``observe`` appends each active row's ``(obs, action, reward)`` to its context;
``end_episode`` draws a new z from the prior after each exploration episode, and from the posterior given
all of that row's context once the exploration episodes are over. Evaluation noise comes from a generator
reseeded by every ``begin_trial``; training streams are never touched.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any, ClassVar

import numpy as np
import torch

from agents.common.device import send, staging, to_device
from baselines.pearl.buffers import MultiTaskReplayBuffer
from baselines.pearl.config import PEARLConfig
from baselines.pearl.encoder import sample_latent
from baselines.pearl.networks import standard_normal
from baselines.pearl.provenance import config_record as _config_record
from baselines.pearl.provenance import default_config as _default_config
from baselines.pearl.sac import PEARLLearner, TrainingBatch, to_floats
from benchmark.agent import AgentBase, EnvSpec, Runtime, TrainingContext, Transition, TrialPlan, row_mask
from benchmark.provenance import ConfigRecord
from benchmark.suites import SUITES
from benchmark.trial import TrialBatch

INITIAL_POOL_ROWS = 20
"""tasks stepped together while collecting the initial pool (memory: one environment per row)"""


def stratified_task_ids(num_available: int, num_tasks: int, rng: np.random.Generator) -> np.ndarray:
    """``num_tasks`` distinct ids of ``range(num_available)``, one drawn uniformly from each of ``num_tasks``
    equal consecutive strides (systematic sampling). Meta-World lists its tasks class by class, so every class
    gets the same number of tasks; with ``num_tasks == num_available`` it returns every id."""
    if not 1 <= num_tasks <= num_available:
        raise ValueError(f"cannot draw {num_tasks} training tasks from a meta_train split of {num_available}")
    edges = (np.arange(num_tasks + 1) * num_available) // num_tasks
    return np.array([rng.integers(edges[i], edges[i + 1]) for i in range(num_tasks)], dtype=np.int64)


def waves(tasks: np.ndarray) -> list[np.ndarray]:
    """Split a draw of task indices into groups of distinct tasks, in order (oyster handles a repeated task
    sequentially: its second visit clears the encoder buffer again); each group is collected in parallel."""
    groups: list[list[int]] = []
    for task in tasks.tolist():
        for group in groups:
            if task not in group:
                group.append(task)
                break
        else:
            groups.append([task])
    return [np.array(g, dtype=np.int64) for g in groups]


class PEARLAgent(AgentBase):
    """PEARL baseline: SAC conditioned on a latent task inferred by a probabilistic context encoder.

    Args:
        config: see :class:`PEARLConfig`; per-suite defaults from :meth:`default_config`.
        spec: the suite's shapes, horizon and action bounds.
        seed: fixes initialisation, training noise, the training tasks and every minibatch.
        runtime: where to compute (default: CPU, 1 thread) and the precision of the updates (bf16: the
            gradient steps' forward passes and losses under bfloat16 autocast; acting stays float32).
    """

    Config: ClassVar[type] = PEARLConfig
    precisions: ClassVar[tuple[str, ...]] = ("fp32", "bf16")

    def __init__(self, config: PEARLConfig, spec: EnvSpec, seed: int, runtime: Runtime | None = None) -> None:
        self.config = config
        self.spec = spec
        self.seed = seed
        self.runtime = runtime or Runtime()
        self.device = self.runtime.torch_device()
        self._low = np.array(spec.action_low, dtype=np.float32)
        self._high = np.array(spec.action_high, dtype=np.float32)
        if not (np.isfinite(self._low).all() and np.isfinite(self._high).all()):
            raise ValueError("PEARL's tanh policy needs a bounded action space")
        with torch.random.fork_rng(devices=[]):  # the CPU's generator only; the GPUs' are not touched
            torch.random.default_generator.manual_seed(seed)
            self.learner = PEARLLearner(config, spec.obs_dim, spec.act_dim, self.runtime).to(self.device)
        # Training streams: torch noise (z, actions) and numpy draws (tasks, minibatches). The torch noise is
        # drawn on CPU generators and moved (networks.standard_normal): the same stream on every device.
        self._generator = torch.Generator().manual_seed(seed)
        self._rng = np.random.default_rng(np.random.SeedSequence([seed, 0x9EA]))
        self.iteration = 0
        self.train_steps = 0
        self.initial_pool_collected = False
        self.train_tasks: np.ndarray | None = None  # opaque meta_train ids, drawn at the first meta_train
        self.rl_buffer: MultiTaskReplayBuffer | None = None
        self.encoder_buffer: MultiTaskReplayBuffer | None = None
        self.last_stats: dict[str, float] = {}
        self._staging: dict[tuple[int, tuple[int, ...]], torch.Tensor] = {}  # CPU batches, reused
        # Evaluation state, one row per trial; reset by begin_trial.
        self._eval_generator = torch.Generator().manual_seed(seed)
        self._plan: TrialPlan | None = None
        self._z = torch.zeros(0, config.latent_dim, device=self.device)
        self._context = np.zeros((0, 1, self.learner.context_dim), dtype=np.float32)
        self._context_len = np.zeros(0, dtype=np.int64)
        self._episodes_done = np.zeros(0, dtype=np.int64)

    @classmethod
    def default_config(cls, suite: str, profile: str) -> PEARLConfig:
        return _default_config(suite, profile)

    @classmethod
    def config_record(cls, suite: str, tier: str) -> ConfigRecord:
        return _config_record(suite, tier)

    @classmethod
    def validate_config(cls, config: PEARLConfig, suite: str) -> None:
        """The fixed training tasks are distinct tasks of meta_train: the split must hold that many."""
        available = SUITES[suite].meta_train_tasks
        if config.num_train_tasks > available:
            raise ValueError(
                f"num_train_tasks {config.num_train_tasks} exceeds the {available} tasks of "
                f"{suite}'s meta_train"
            )

    @classmethod
    def default_exploration_episodes(cls, suite: str) -> int:
        """oyster's ``num_exp_traj_eval``: episodes on z ~ prior before the posterior (2 for cheetah-vel)."""
        return _default_config(suite, "paper").num_exp_traj_eval

    # ------------------------------------------------------------------ actions and latents

    def _to_env_action(self, action: np.ndarray) -> np.ndarray:
        """Policy actions in [-1, 1] -> the env's box (oyster's ``NormalizedBoxEnv``), clipped."""
        scaled = self._low + (action + 1.0) * 0.5 * (self._high - self._low)
        return np.clip(scaled, self._low, self._high).astype(np.float32)

    def _to_policy_action(self, action: np.ndarray) -> np.ndarray:
        """The env's action -> [-1, 1], the scale the encoder and critics see."""
        return (2.0 * (action - self._low) / (self._high - self._low) - 1.0).astype(np.float32)

    def _act(
        self, obs: np.ndarray, z: torch.Tensor, deterministic: np.ndarray, generator: torch.Generator
    ) -> np.ndarray:
        """Policy actions in [-1, 1] for raw observations `(n, obs_dim)` and latents `(n, latent)`."""
        x = torch.cat([to_device(obs, self.device, torch.float32), z], dim=-1)
        det = to_device(np.array(deterministic, dtype=bool), self.device)
        return self.learner.policy.act(x, det, generator).cpu().numpy()  # the step's one host sync

    def _prior_sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return standard_normal((n, self.config.latent_dim), generator, self.device)

    def _context_rows(self, obs: np.ndarray, policy_action: np.ndarray, reward: np.ndarray) -> np.ndarray:
        return np.concatenate(
            [obs, policy_action, np.asarray(reward, dtype=np.float32).reshape(-1, 1)], axis=1
        ).astype(np.float32)

    # ------------------------------------------------------------------ meta-training

    def _make_buffers(self) -> None:
        assert self.train_tasks is not None
        num_tasks, capacity = len(self.train_tasks), self.config.replay_buffer_size
        obs_dim, act_dim = self.spec.obs_dim, self.spec.act_dim
        self.rl_buffer = MultiTaskReplayBuffer(
            num_tasks,
            capacity,
            {"obs": obs_dim, "action": act_dim, "reward": 1, "next_obs": obs_dim, "terminal": 1},
        )
        self.encoder_buffer = MultiTaskReplayBuffer(
            num_tasks, capacity, {"obs": obs_dim, "action": act_dim, "reward": 1}
        )

    def meta_train(self, ctx: TrainingContext) -> Generator[None, None, None]:
        cfg = self.config
        if self.train_tasks is None:
            self.train_tasks = stratified_task_ids(ctx.num_train_tasks, cfg.num_train_tasks, self._rng)
            self._make_buffers()
        assert self.rl_buffer is not None and self.encoder_buffer is not None
        batch = ctx.trial_batch(cfg.num_tasks_sample, episodes_per_trial=1, autoreset=False)
        try:
            while True:
                started = time.perf_counter()
                if not self.initial_pool_collected:
                    pool = ctx.trial_batch(
                        min(len(self.train_tasks), INITIAL_POOL_ROWS), episodes_per_trial=1, autoreset=False
                    )
                    try:
                        every_task = np.arange(len(self.train_tasks))
                        self._collect(
                            pool, every_task, cfg.num_initial_steps, posterior=False, to_encoder=True
                        )
                    finally:
                        _close(pool)
                    self.initial_pool_collected = True
                collect_started, steps_before = time.perf_counter(), ctx.env_steps
                sampled = self._rng.integers(len(self.train_tasks), size=cfg.num_tasks_sample)
                for group in waves(sampled):
                    for task in group:
                        self.encoder_buffer.clear(int(task))
                    self._collect(batch, group, cfg.num_steps_prior, posterior=False, to_encoder=True)
                    self._collect(batch, group, cfg.num_steps_posterior, posterior=True, to_encoder=True)
                    self._collect(
                        batch, group, cfg.num_extra_rl_steps_posterior, posterior=True, to_encoder=False
                    )
                train_started = time.perf_counter()
                stats = self._train(cfg.num_train_steps_per_itr)
                finished = time.perf_counter()
                # Where an iteration's time goes (make bench prices PEARL from it); the collection figures
                # leave out the initial pool, which only the first iteration gathers.
                self.last_stats = {
                    **stats,
                    "collect_env_steps": float(ctx.env_steps - steps_before),
                    "collect_seconds": train_started - collect_started,
                    "train_seconds": finished - train_started,
                    "iteration_seconds": finished - started,
                }
                self.iteration += 1
                yield
        finally:
            _close(batch)

    def _collect(
        self, batch: TrialBatch, tasks: np.ndarray, num_steps: int, posterior: bool, to_encoder: bool
    ) -> None:
        """Collect whole episodes on each training task of ``tasks`` until each has ``num_steps`` env steps.

        z is drawn afresh for every episode: from the prior, or (``posterior``) from the posterior given a
        context batch of the task's encoder buffer, refreshed every ``update_post_train`` episodes after a
        first episode on the prior (oyster ``collect_data(num_steps, 1, update_post_train)``).
        """
        assert self.train_tasks is not None and self.rl_buffer is not None and self.encoder_buffer is not None
        if num_steps <= 0:
            return
        layout, rows = self.spec.layout, len(batch)
        for start in range(0, len(tasks), rows):
            chunk = tasks[start : start + rows]
            collected = np.zeros(len(chunk), dtype=np.int64)
            mu = torch.zeros(len(chunk), self.config.latent_dim, device=self.device)
            variance = torch.ones_like(mu)
            episode = 0
            while (collected < num_steps).any():
                need = np.flatnonzero(collected < num_steps)
                need_t = to_device(need, self.device)
                if posterior and episode > 0 and episode % self.config.update_post_train == 0:
                    context = self.encoder_buffer.sample(
                        chunk[need], self.config.embedding_batch_size, self._rng
                    )
                    ctx = np.concatenate([context["obs"], context["action"], context["reward"]], axis=-1)
                    with torch.no_grad():
                        mu[need_t], variance[need_t] = self.learner.encoder.posterior(
                            to_device(ctx, self.device)
                        )
                z = sample_latent(mu[need_t], variance[need_t], self._generator)
                obs, _ = batch.reset(task_ids=self.train_tasks[chunk[need]].tolist(), rows=need.tolist())
                steps: list[tuple[np.ndarray, ...]] = []
                no_row_deterministic = np.zeros(len(need), dtype=bool)
                while batch.active.any():
                    raw_obs = layout.obs(obs[need])
                    env_action = np.zeros((rows, self.spec.act_dim), dtype=np.float32)
                    env_action[need] = self._to_env_action(
                        self._act(raw_obs, z, no_row_deterministic, self._generator)
                    )
                    step = batch.step(env_action)
                    steps.append(
                        (
                            raw_obs,
                            self._to_policy_action(env_action[need]),
                            step.reward[need],
                            layout.obs(step.final_obs[need]),
                            step.terminated[need],
                            step.active[need],
                        )
                    )
                    obs = step.obs
                obs_t, act_t, rew_t, next_t, term_t, active_t = (
                    np.stack(x, axis=1) for x in zip(*steps, strict=True)
                )
                for j, task in enumerate(chunk[need]):
                    keep = active_t[j]
                    self.rl_buffer.add(
                        int(task),
                        obs=obs_t[j][keep],
                        action=act_t[j][keep],
                        reward=rew_t[j][keep],
                        next_obs=next_t[j][keep],
                        terminal=term_t[j][keep],
                    )
                    if to_encoder:
                        self.encoder_buffer.add(
                            int(task), obs=obs_t[j][keep], action=act_t[j][keep], reward=rew_t[j][keep]
                        )
                    collected[need[j]] += int(keep.sum())
                episode += 1

    def _train(self, num_steps: int) -> dict[str, float]:
        """``num_steps`` gradient steps; each on ``meta_batch`` tasks drawn with replacement (oyster).

        Returns the last step's statistics, read from the device once (no host sync inside the loop).
        """
        assert self.train_tasks is not None and self.rl_buffer is not None and self.encoder_buffer is not None
        cfg, stats = self.config, {}
        fields = self.rl_buffer.slices
        for _ in range(num_steps):
            tasks = self._rng.integers(len(self.train_tasks), size=cfg.meta_batch)
            # The encoder buffer stores (obs, action, reward) side by side: its rows are the context.
            context = self._sample_rows(self.encoder_buffer, tasks, cfg.embedding_batch_size)
            rl = self._sample_rows(self.rl_buffer, tasks, cfg.batch_size)
            batch = TrainingBatch(
                obs=rl[..., fields["obs"]],
                action=rl[..., fields["action"]],
                reward=rl[..., fields["reward"]],
                next_obs=rl[..., fields["next_obs"]],
                terminal=rl[..., fields["terminal"]],
                context=context,
            )
            stats = self.learner.update(batch, self._generator)
            self.train_steps += 1
        return to_floats(stats)

    def _sample_rows(self, buffer: MultiTaskReplayBuffer, tasks: np.ndarray, batch_size: int) -> torch.Tensor:
        """One gradient step's rows of ``buffer`` (:meth:`MultiTaskReplayBuffer.sample_rows`) as a tensor on
        the device, gathered straight into a tensor prepared once (on the CPU, which the step reads in
        place) or into fresh pinned memory sent without a host sync (on a GPU)."""
        shape = (len(tasks), batch_size, buffer.width)
        if self.device.type == "cpu":
            key = (id(buffer), shape)
            rows = self._staging.get(key)
            if rows is None:
                rows = self._staging[key] = torch.empty(shape, dtype=torch.float32)
            buffer.sample_rows(tasks, batch_size, self._rng, out=rows.numpy())
            return rows
        staged = staging(shape, torch.float32, self.device)
        buffer.sample_rows(tasks, batch_size, self._rng, out=staged.numpy())
        return send(staged, self.device)

    # ------------------------------------------------------------------ evaluation

    def begin_trial(self, plan: TrialPlan) -> None:
        n = plan.num_trials
        self._plan = plan
        seed = int(np.random.SeedSequence([plan.seed, 0x9EA1]).generate_state(1)[0])
        self._eval_generator = torch.Generator().manual_seed(seed)
        self._context = np.zeros(
            (n, max(1, plan.episodes * self.spec.horizon), self.learner.context_dim), dtype=np.float32
        )
        self._context_len = np.zeros(n, dtype=np.int64)
        self._episodes_done = np.zeros(n, dtype=np.int64)
        self._z = self._prior_sample(n, self._eval_generator)

    def act(self, obs: np.ndarray, deterministic: np.ndarray) -> np.ndarray:
        if self._plan is None or len(obs) != len(self._z):
            raise RuntimeError("PEARLAgent.act needs begin_trial(plan) for the same number of trials first")
        det = row_mask(deterministic, len(obs))
        action = self._act(self.spec.layout.obs(obs), self._z, det, self._eval_generator)
        return self._to_env_action(action)

    def observe(self, transition: Transition) -> None:
        rows = np.flatnonzero(transition.active)
        if rows.size == 0:
            return
        if self._context_len[rows].max() >= self._context.shape[1]:  # a longer trial than planned
            self._context = np.concatenate([self._context, np.zeros_like(self._context)], axis=1)
        layout = self.spec.layout
        self._context[rows, self._context_len[rows]] = self._context_rows(
            layout.obs(transition.obs[rows]),
            self._to_policy_action(np.asarray(transition.action, dtype=np.float32)[rows]),
            np.asarray(transition.reward)[rows],
        )
        self._context_len[rows] += 1

    def end_episode(self, mask: np.ndarray) -> None:
        assert self._plan is not None
        mask = np.asarray(mask, dtype=bool)
        self._episodes_done[mask] += 1
        # oyster's sampler calls sample_z() after every trajectory (rlkit/samplers/in_place.py,
        # resample=1) and infers the posterior only once num_exp_traj_eval trajectories are done
        # (rl_algorithm.py collect_paths): each exploration episode acts on its own draw from the prior.
        exploring = np.flatnonzero(mask & (self._episodes_done < self._plan.exploration_episodes))
        if exploring.size:
            self._z[to_device(exploring, self.device)] = self._prior_sample(
                exploring.size, self._eval_generator
            )
        rows = np.flatnonzero(mask & (self._episodes_done >= self._plan.exploration_episodes))
        rows = rows[self._context_len[rows] > 0]
        if rows.size:
            self._z[to_device(rows, self.device)] = self.posterior_z(rows)

    @torch.no_grad()
    def trial_posterior(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance `(len(rows), latent)` of q(z | all context of each evaluation row so far).

        The context is every ``(obs, action, reward)`` that :meth:`observe` recorded for the row in the
        current trial, the action on the policy's [-1, 1] scale; oyster infers the evaluation posterior from
        the whole trial's context so far (``rlkit/core/rl_algorithm.py`` ``collect_paths``,
        ``agent.infer_posterior(agent.context)``). The rows' contexts, of different lengths, go through the
        encoder as one padded batch; the padding is masked out of the product of the factors.
        """
        lengths = self._context_len[rows]
        longest = int(lengths.max())
        mask = np.arange(longest)[None, :] < lengths[:, None]
        ctx = to_device(self._context[rows, :longest], self.device, torch.float32)
        return self.learner.encoder.posterior(ctx, to_device(mask, self.device))

    @torch.no_grad()
    def posterior_z(self, rows: np.ndarray) -> torch.Tensor:
        """z ~ q(z | all context of each row so far) (:meth:`trial_posterior`), for evaluation ``rows``."""
        mu, variance = self.trial_posterior(rows)
        return sample_latent(mu, variance, self._eval_generator)

    # ------------------------------------------------------------------ checkpoints

    def state_dict(self, include_buffers: bool = True) -> dict[str, Any]:
        """Everything a resumed run needs; ``include_buffers=False`` leaves out the replay buffers (the bulk),
        for checkpoints that only evaluate."""
        state: dict[str, Any] = {
            "learner": self.learner.state_dict(),
            "optimizers": {name: opt.state_dict() for name, opt in self.learner.optimizers().items()},
            "generator": self._generator.get_state(),
            "rng": self._rng.bit_generator.state,
            "iteration": self.iteration,
            "train_steps": self.train_steps,
            "initial_pool_collected": self.initial_pool_collected,
            "train_tasks": None if self.train_tasks is None else torch.from_numpy(self.train_tasks.copy()),
        }
        if include_buffers and self.rl_buffer is not None and self.encoder_buffer is not None:
            state["rl_buffer"] = self.rl_buffer.state_dict()
            state["encoder_buffer"] = self.encoder_buffer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; without buffers, resumed training collects the initial pool again."""
        self.learner.load_state_dict(state["learner"])
        for name, optimizer in self.learner.optimizers().items():
            optimizer.load_state_dict(state["optimizers"][name])
        self._generator.set_state(state["generator"])
        self._rng.bit_generator.state = state["rng"]
        self.iteration = int(state["iteration"])
        self.train_steps = int(state["train_steps"])
        tasks = state["train_tasks"]
        self.train_tasks = None if tasks is None else np.asarray(tasks, dtype=np.int64).copy()
        self.rl_buffer = self.encoder_buffer = None
        self.initial_pool_collected = False
        if self.train_tasks is not None:
            self._make_buffers()
            assert self.rl_buffer is not None and self.encoder_buffer is not None
            if "rl_buffer" in state and "encoder_buffer" in state:
                self.rl_buffer.load_state_dict(state["rl_buffer"])
                self.encoder_buffer.load_state_dict(state["encoder_buffer"])
                self.initial_pool_collected = bool(state["initial_pool_collected"])


def _close(batch: TrialBatch) -> None:
    for env in batch.envs:
        env.close()
