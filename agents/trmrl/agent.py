"""TrMRL (Melo, ICML 2022) as the original code ran it, behind the harness's agent contract.

Reading order: :mod:`agents.trmrl.config` (the original README table), :mod:`agents.trmrl.networks`
(working memory, transformer, T-Fixup, value function), :mod:`agents.trmrl.ppo` (the update), this file
(rollouts and the evaluation interface).

Memory semantics. The original resets its window before every episode (``RL2Worker.rollout`` calls
``policy.reset_observations()``), and ``RL2Env.reset`` makes each episode's first token ``[o_0, 0, 0, 0]``.
Our trial wrapper instead lets the first token of episode k > 0 carry the previous episode's last action,
reward and done; with ``memory_scope="episode"`` (the faithful default) we zero those slots and clear the
window, so the transformer sees exactly what the original's did. ``memory_scope="trial"`` keeps the window
and the token as they are across the episodes of a trial (an ablation the paper did not run).

Actions. The original samples from the Gaussian during training and sends the raw sample to the
environment (MuJoCo clamps controls to their range inside the simulator; Meta-World clips). Our
environments take actions inside their Box, so we clip what is sent to the environment and keep the
unclipped sample for the PPO likelihoods. Evaluation follows the protocol's per-row ``deterministic`` mask
(the mean on locomotion, samples on Meta-World and in exploration episodes) and draws its noise from a
generator reseeded by ``begin_trial``, never from the training stream (evaluating must not change training).

Batch top-up. garage's ``LocalSampler.obtain_samples`` keeps rolling out trials, worker by worker, until an
iteration holds at least ``meta_batch × episodes × horizon`` steps; when ants fall early, an iteration holds
more than ``meta_batch`` trials. :meth:`TrMRLAgent.collect` does the same: after the meta-batch it runs
extra trials on the same tasks, row by row, until the target is reached.
"""

from __future__ import annotations

import copy
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from stable_baselines3.common.running_mean_std import RunningMeanStd

from agents.common.device import to_device
from agents.common.schedules import StepDecay
from agents.trmrl.config import TrMRLConfig
from agents.trmrl.networks import TransformerPolicy, ValueFunction, WorkingMemory
from agents.trmrl.ppo import Batch, PPOUpdate, steps_per_epoch
from agents.trmrl.provenance import config_record, default_config
from benchmark.agent import AgentBase, EnvSpec, Runtime, TrainingContext, Transition, TrialPlan, row_mask
from benchmark.constraints import check_meta_batch_covers_classes
from benchmark.provenance import ConfigRecord
from benchmark.trial import TrialBatch


@dataclass
class _Trials:
    """The samples of the trials one :meth:`TrMRLAgent._run_trials` call rolled out, in trial order."""

    windows: np.ndarray  # `(n, wm_size, token_dim)` float32
    index: np.ndarray  # `(n,)` int64
    tokens: np.ndarray  # `(n, token_dim)` float32
    actions: np.ndarray  # `(n, act_dim)` float32, unclipped
    rewards: np.ndarray  # `(n,)` float64
    trial_lengths: list[int]


class TrMRLAgent(AgentBase):
    """The TrMRL agent: a working-memory transformer policy trained with RL²-style PPO.

    Args:
        config: see :class:`~agents.trmrl.config.TrMRLConfig`.
        spec: the suite's shapes and bounds.
        seed: seeds the initialisation, the action noise and the minibatch shuffles.
        runtime: the device the networks live on (noise is drawn on the CPU, so a seed gives the same
            actions on every device up to float error), and the precision of the PPO update (bf16: its
            forward passes and losses under bfloat16 autocast; acting stays float32).

    Attributes:
        memory: the working memory of the trials in progress, one window per row
            (:class:`~agents.trmrl.networks.WorkingMemory`): ``begin_trial`` and every collected meta-batch
            start it empty, each action pushes its token, and in faithful mode an episode's first action
            clears the row first (``RL2Worker.rollout`` calls ``policy.reset_observations()``).
    """

    Config: ClassVar[type] = TrMRLConfig
    precisions: ClassVar[tuple[str, ...]] = ("fp32", "bf16")

    def __init__(self, config: TrMRLConfig, spec: EnvSpec, seed: int, runtime: Runtime | None = None) -> None:
        self.config = config
        self.spec = spec
        self.seed = seed
        self.runtime = runtime or Runtime()
        self.device = self.runtime.torch_device()
        layout = spec.layout
        self._token_dim = layout.dim
        # Zeroing [prev action, prev reward, done] reproduces RL2Env.reset's first token [o_0, 0, 0, 0].
        self._prev_slots = slice(layout.obs_dim, layout.dim)
        self._low = np.array(spec.action_low, dtype=np.float32)
        self._high = np.array(spec.action_high, dtype=np.float32)
        with torch.random.fork_rng(devices=[]):  # a private init stream; the caller's RNG is untouched
            # The CPU generator only: torch.manual_seed would reseed the GPUs' too, which fork_rng leaves be.
            torch.random.default_generator.manual_seed(seed)
            self.policy = TransformerPolicy(
                token_dim=self._token_dim,
                act_dim=spec.act_dim,
                wm_size=config.wm_size,
                d_model=config.d_model,
                n_heads=config.n_heads,
                dim_ff=config.dim_ff,
                n_layers=config.n_layers,
                tfixup=config.tfixup,
                hidden_sizes=config.policy_hidden_sizes,
                init_std=config.init_std,
                min_std=config.min_std,
                output_gain=config.output_gain,
            )
            self.value = ValueFunction(
                self._token_dim,
                config.value_hidden_sizes,
                config.value_init_std,
                base=self.policy if config.share_network else None,
            )
        self.policy.to(self.device)
        self.value.to(self.device)
        spe = steps_per_epoch(
            config.opt_epochs, spec.horizon, config.episodes_per_trial, config.meta_batch_size,
            config.minibatch_size,
        )  # fmt: skip

        def schedule(kind: str) -> StepDecay | None:
            if kind == "none":
                return None
            return StepDecay(
                max(spe, 1), config.decay_epoch_init, config.decay_epoch_end, config.min_lr_factor
            )

        self.learner = PPOUpdate(
            self.policy,
            self.value,
            policy_lr=config.policy_lr,
            value_lr=config.value_lr,
            weight_decay=config.weight_decay,
            policy_schedule=schedule(config.policy_lr_schedule),
            value_schedule=schedule(config.value_lr_schedule),
            clip_range=config.clip_range,
            discount=config.discount,
            gae_lambda=config.gae_lambda,
            minibatch_size=config.minibatch_size,
            opt_epochs=config.opt_epochs,
            autocast=self.runtime.autocast,
        )
        self._action_generator = torch.Generator().manual_seed(seed)  # training noise only
        self._eval_generator = torch.Generator().manual_seed(seed)  # reseeded by every begin_trial
        self._rng = np.random.default_rng([seed, 0x7124])
        self.iteration = 0
        self.last_stats: dict[str, float] = {}
        self.memory = WorkingMemory(0, config.wm_size, self._token_dim)
        self._episode_start = np.zeros(0, dtype=bool)
        # SB3's running statistics, updated only on meta-training tokens (evaluation never changes them).
        self.token_stats = RunningMeanStd(shape=(self._token_dim,)) if config.normalize_tokens else None
        self._training = False
        self._rows_active = np.zeros(0, dtype=bool)

    @classmethod
    def default_config(cls, suite: str, profile: str) -> TrMRLConfig:
        return default_config(suite, profile)

    @classmethod
    def config_record(cls, suite: str, tier: str) -> ConfigRecord:
        return config_record(suite, tier)

    @classmethod
    def validate_config(cls, config: TrMRLConfig, suite: str) -> None:
        """A Meta-World meta-batch covers every training class equally (garage's ``MetaWorldTaskSampler``)."""
        check_meta_batch_covers_classes(config.meta_batch_size, suite)

    # ------------------------------------------------------------------ acting

    def _policy_step(
        self, tokens: np.ndarray, deterministic: np.ndarray, generator: torch.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Push ``tokens`` into the windows (after clearing/zeroing where an episode starts) and act.

        Rows where ``deterministic`` is true take the mean, the others a sample drawn with ``generator``.
        Returns the raw action and the action clipped to the bounds.
        """
        tokens = np.array(tokens, dtype=np.float32)  # a copy: the caller's array stays untouched
        if self.config.memory_scope == "episode" and self._episode_start.any():
            self.memory.reset(self._episode_start)
            tokens[self._episode_start, self._prev_slots] = 0.0
        if self.token_stats is not None:
            if self._training:
                self.token_stats.update(tokens[self._rows_active])
            std = np.sqrt(self.token_stats.var) + 1e-8
            tokens = ((tokens - self.token_stats.mean) / std).astype(np.float32)
        self.memory.push(tokens)
        self._episode_start[:] = False
        with torch.no_grad():
            mean_t, log_std_t = self.policy(
                to_device(self.memory.windows, self.device), to_device(self.memory.index, self.device)
            )
            # Means and std in one device-to-host copy: the step's one host sync.
            out = torch.cat([mean_t, log_std_t.exp().unsqueeze(0)]).cpu().numpy()
            mean, std = out[:-1], out[-1]
        sampled = ~row_mask(deterministic, len(mean))
        raw = mean.copy()
        if sampled.any():  # no draw at all when every row is deterministic (the generator stays put)
            noise = torch.randn(mean.shape, generator=generator).numpy()
            raw[sampled] += (noise * std)[sampled]
        return raw, np.clip(raw, self._low, self._high)

    def begin_trial(self, plan: TrialPlan) -> None:
        self._start_trials(plan.num_trials)
        self._eval_generator.manual_seed(plan.seed)

    def _start_trials(self, num_trials: int) -> None:
        self.memory = WorkingMemory(num_trials, self.config.wm_size, self._token_dim)
        self._episode_start = np.ones(num_trials, dtype=bool)

    def act(self, obs: np.ndarray, deterministic: np.ndarray) -> np.ndarray:
        return self._policy_step(obs, deterministic, self._eval_generator)[1]

    def observe(self, transition: Transition) -> None:
        pass  # the next token carries what happened; nothing else is kept

    def end_episode(self, mask: np.ndarray) -> None:
        # The window is cleared lazily at the next act(), where the first token is also zeroed.
        self._episode_start |= np.asarray(mask, dtype=bool)

    # ------------------------------------------------------------------ training

    def meta_train(self, ctx: TrainingContext) -> Generator[None, None, None]:
        """One iteration = at least ``meta_batch × episodes × horizon`` steps of complete trials on
        meta_train tasks (the meta-batch, topped up as garage's sampler did) + one PPO update."""
        config = self.config
        # No autoreset: every iteration collects complete trials, as RL2Worker did.
        batch = ctx.trial_batch(config.meta_batch_size, config.episodes_per_trial, autoreset=False)
        while True:
            rollout, train_return = self.collect(batch)
            self.last_stats = {**self.learner(rollout, self._rng), "train_return": train_return}
            self.iteration += 1
            yield

    def collect(self, batch: TrialBatch) -> tuple[Batch, float]:
        """Roll out complete trials on ``batch`` (built with ``autoreset=False``) with sampled actions, as
        garage's ``LocalSampler`` did.

        First one trial per row, then (while the samples number fewer than ``rows × episodes × horizon``)
        one more trial at a time on the rows' tasks in row order. Updates the token statistics, if any, and
        draws from the training noise stream; the working memory starts empty.

        Returns:
            The samples in trial order and the mean return of the episodes they complete (NaN if none).
        """
        n = len(batch)
        target = n * self.config.episodes_per_trial * self.spec.horizon
        obs, infos = batch.reset()
        task_ids = [int(info["task_id"]) for info in infos]
        self._start_trials(n)
        chunks: list[_Trials] = []
        episode_returns: list[float] = []
        chunks.append(self._run_trials(batch, obs, episode_returns))
        collected = len(chunks[-1].rewards)
        extra = 0
        while collected < target:
            row = extra % n  # the next worker rolls out another trial of its task (LocalSampler order)
            obs, _ = batch.reset(task_ids=[task_ids[row]], rows=[row])
            self.memory.reset(np.arange(n) == row)
            self._episode_start[row] = True
            chunks.append(self._run_trials(batch, obs, episode_returns))
            collected += len(chunks[-1].rewards)
            extra += 1
        train_return = float(np.mean(episode_returns)) if episode_returns else float("nan")

        def tensor(field: str) -> torch.Tensor:
            return to_device(np.concatenate([getattr(c, field) for c in chunks]), self.device)

        samples = Batch(
            windows=tensor("windows"),
            index=tensor("index"),
            tokens=tensor("tokens"),
            actions=tensor("actions"),
            rewards=np.concatenate([c.rewards for c in chunks]),
            trial_lengths=[length for c in chunks for length in c.trial_lengths],
        )
        return samples, train_return

    def _run_trials(self, batch: TrialBatch, obs: np.ndarray, episode_returns: list[float]) -> _Trials:
        """Step the batch's active rows with sampled actions until their trials end.

        Each step records the active rows with one array copy per field (not one append per row); the
        samples are put in trial order (row by row, time within a row) at the end, as the rows'
        trials are the batch's trials in row order.
        """
        rows_seen: list[np.ndarray] = []
        windows: list[np.ndarray] = []
        index: list[np.ndarray] = []
        actions: list[np.ndarray] = []
        rewards: list[np.ndarray] = []
        sample = np.zeros(len(batch), dtype=bool)
        while batch.active.any():
            active = batch.active.copy()
            self._training, self._rows_active = True, active
            raw, clipped = self._policy_step(obs, sample, self._action_generator)
            self._training = False
            step = batch.step(clipped)
            rows = np.flatnonzero(active)
            rows_seen.append(rows)
            windows.append(self.memory.windows[rows])  # fancy indexing copies
            index.append(self.memory.index[rows])
            actions.append(raw[rows])
            rewards.append(step.reward[rows])
            episode_returns += [float(step.infos[i]["episode_return"]) for i in rows[step.episode_end[rows]]]
            self._episode_start |= step.episode_end & ~step.trial_end
            obs = step.obs
        # A stable sort by row keeps each trial's steps in time order.
        row = np.concatenate(rows_seen)
        order = np.argsort(row, kind="stable")
        all_windows = np.concatenate(windows)[order]
        all_index = np.concatenate(index).astype(np.int64)[order]
        return _Trials(
            windows=all_windows,
            index=all_index,
            # The token as the transformer saw it (zeroed at an episode start in faithful mode).
            tokens=all_windows[np.arange(len(all_index)), all_index],
            actions=np.concatenate(actions).astype(np.float32)[order],
            rewards=np.concatenate(rewards).astype(np.float64)[order],
            trial_lengths=[int(c) for c in np.unique(row, return_counts=True)[1]],
        )

    # ------------------------------------------------------------------ checkpoints

    def state_dict(self, include_buffers: bool = True) -> dict[str, Any]:
        return {
            "policy": self.policy.state_dict(),
            "value_head": self.value.head.state_dict(),
            "learner": self.learner.state_dict(),
            "iteration": self.iteration,
            "action_generator": self._action_generator.get_state(),
            "rng": self._rng.bit_generator.state,
            "token_stats": None if self.token_stats is None else _stats_state(self.token_stats),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # A deep copy: torch optimisers keep the loaded state tensors, which must not alias the caller's.
        state = copy.deepcopy(state)
        self.policy.load_state_dict(state["policy"])  # load_state_dict copies onto our device
        self.value.head.load_state_dict(state["value_head"])
        self.learner.load_state_dict(state["learner"])
        self.iteration = int(state["iteration"])
        self._action_generator.set_state(state["action_generator"])
        self._rng.bit_generator.state = state["rng"]
        if self.token_stats is not None:
            stats = state["token_stats"]
            self.token_stats.mean = _as_float64(stats["mean"])
            self.token_stats.var = _as_float64(stats["var"])
            self.token_stats.count = float(stats["count"])


def _stats_state(stats: RunningMeanStd) -> dict[str, Any]:
    """Token statistics as tensors: checkpoints load with a plain ``torch.load(weights_only=True)``."""
    return {
        "mean": torch.from_numpy(np.array(stats.mean, dtype=np.float64)),
        "var": torch.from_numpy(np.array(stats.var, dtype=np.float64)),
        "count": float(stats.count),
    }


def _as_float64(value: Any) -> np.ndarray:
    return (value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)).astype(np.float64)
