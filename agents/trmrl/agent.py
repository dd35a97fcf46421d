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
unclipped sample for the PPO likelihoods. Evaluation uses the mean (``deterministic=True``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import torch
from stable_baselines3.common.running_mean_std import RunningMeanStd

from agents.common.schedules import StepDecay
from agents.trmrl.config import TrMRLConfig, default_config
from agents.trmrl.networks import TransformerPolicy, ValueFunction, WorkingMemory
from agents.trmrl.ppo import Batch, PPOUpdate, steps_per_epoch
from benchmark.agent import EnvSpec, TrainingContext, Transition
from benchmark.trial import TrialBatch


class TrMRLAgent:
    """The TrMRL agent: a working-memory transformer policy trained with RL²-style PPO.

    Args:
        config: see :class:`~agents.trmrl.config.TrMRLConfig`.
        spec: the suite's shapes and bounds.
        seed: seeds the initialisation, the action noise and the minibatch shuffles.
    """

    Config: ClassVar[type] = TrMRLConfig

    def __init__(self, config: TrMRLConfig, spec: EnvSpec, seed: int) -> None:
        self.config = config
        self.spec = spec
        self.seed = seed
        layout = spec.layout
        self._token_dim = layout.dim
        # Zeroing [prev action, prev reward, done] reproduces RL2Env.reset's first token [o_0, 0, 0, 0].
        self._prev_slots = slice(layout.obs_dim, layout.dim)
        self._low = np.array(spec.action_low, dtype=np.float32)
        self._high = np.array(spec.action_high, dtype=np.float32)
        with torch.random.fork_rng(devices=[]):  # a private init stream; the caller's RNG is untouched
            torch.manual_seed(seed)
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
        )
        self._action_generator = torch.Generator().manual_seed(seed)
        self._rng = np.random.default_rng([seed, 0x7124])
        self.iteration = 0
        self.last_stats: dict[str, float] = {}
        self._memory = WorkingMemory(0, config.wm_size, self._token_dim)
        self._episode_start = np.zeros(0, dtype=bool)
        # SB3's running statistics, updated only on meta-training tokens (evaluation never changes them).
        self.token_stats = RunningMeanStd(shape=(self._token_dim,)) if config.normalize_tokens else None
        self._training = False
        self._rows_active = np.zeros(0, dtype=bool)

    @classmethod
    def default_config(cls, suite: str, profile: str) -> TrMRLConfig:
        return default_config(suite, profile)

    # ------------------------------------------------------------------ acting

    def _policy_step(self, tokens: np.ndarray, deterministic: bool) -> tuple[np.ndarray, np.ndarray]:
        """Push ``tokens`` into the windows (after clearing/zeroing where an episode starts) and act.

        Returns the raw action (sample or mean) and the action clipped to the bounds.
        """
        tokens = np.array(tokens, dtype=np.float32)  # a copy: the caller's array stays untouched
        if self.config.memory_scope == "episode" and self._episode_start.any():
            self._memory.reset(self._episode_start)
            tokens[self._episode_start, self._prev_slots] = 0.0
        if self.token_stats is not None:
            if self._training:
                self.token_stats.update(tokens[self._rows_active])
            std = np.sqrt(self.token_stats.var) + 1e-8
            tokens = ((tokens - self.token_stats.mean) / std).astype(np.float32)
        self._memory.push(tokens)
        self._episode_start[:] = False
        with torch.no_grad():
            mean, log_std = self.policy(
                torch.from_numpy(self._memory.windows), torch.from_numpy(self._memory.index)
            )
            if deterministic:
                action = mean
            else:
                noise = torch.randn(mean.shape, generator=self._action_generator)
                action = mean + noise * log_std.exp()
        raw = action.numpy()
        return raw, np.clip(raw, self._low, self._high)

    def begin_trial(self, num_trials: int) -> None:
        self._memory = WorkingMemory(num_trials, self.config.wm_size, self._token_dim)
        self._episode_start = np.ones(num_trials, dtype=bool)

    def act(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        return self._policy_step(obs, deterministic)[1]

    def observe(self, transition: Transition) -> None:
        pass  # the next token carries what happened; nothing else is kept

    def end_episode(self, mask: np.ndarray) -> None:
        # The window is cleared lazily at the next act(), where the first token is also zeroed.
        self._episode_start |= np.asarray(mask, dtype=bool)

    # ------------------------------------------------------------------ training

    def meta_train(self, ctx: TrainingContext) -> Iterator[None]:
        """One iteration = ``meta_batch_size`` complete trials on fresh meta_train tasks + one PPO update."""
        config = self.config
        # No autoreset: every iteration collects complete trials, as RL2Worker did.
        batch = ctx.trial_batch(config.meta_batch_size, config.episodes_per_trial, autoreset=False)
        while True:
            rollout = self._collect(batch)
            self.last_stats = {**self.learner(rollout, self._rng), "train_return": self._train_return}
            self.iteration += 1
            yield

    def _collect(self, batch: TrialBatch) -> Batch:
        n = len(batch)
        obs, _ = batch.reset()
        self.begin_trial(n)
        windows: list[list[np.ndarray]] = [[] for _ in range(n)]
        index: list[list[int]] = [[] for _ in range(n)]
        tokens: list[list[np.ndarray]] = [[] for _ in range(n)]
        actions: list[list[np.ndarray]] = [[] for _ in range(n)]
        rewards: list[list[float]] = [[] for _ in range(n)]
        episode_returns: list[float] = []
        while batch.active.any():
            active = batch.active.copy()
            self._training, self._rows_active = True, active
            raw, clipped = self._policy_step(obs, deterministic=False)
            self._training = False
            step = batch.step(clipped)
            for i in np.flatnonzero(active):
                windows[i].append(self._memory.windows[i].copy())
                index[i].append(int(self._memory.index[i]))
                # The token as the transformer saw it (zeroed at an episode start in faithful mode).
                tokens[i].append(self._memory.windows[i, self._memory.index[i]].copy())
                actions[i].append(raw[i])
                rewards[i].append(float(step.reward[i]))
                if step.episode_end[i]:
                    episode_returns.append(float(step.infos[i]["episode_return"]))
            self._episode_start |= step.episode_end & ~step.trial_end
            obs = step.obs
        self._train_return = float(np.mean(episode_returns)) if episode_returns else float("nan")

        def cat(rows: list[list[Any]], dtype: Any) -> np.ndarray:
            return np.asarray([x for row in rows for x in row], dtype=dtype)

        return Batch(
            windows=torch.from_numpy(cat(windows, np.float32)),
            index=torch.from_numpy(cat(index, np.int64)),
            tokens=torch.from_numpy(cat(tokens, np.float32)),
            actions=torch.from_numpy(cat(actions, np.float32)),
            rewards=cat(rewards, np.float64),
            trial_lengths=[len(r) for r in rewards],
        )

    # ------------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy.state_dict(),
            "value_head": self.value.head.state_dict(),
            "learner": self.learner.state_dict(),
            "iteration": self.iteration,
            "action_generator": self._action_generator.get_state(),
            "rng": self._rng.bit_generator.state,
            "token_stats": None if (stats := self.token_stats) is None else vars(stats).copy(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # A deep copy: torch optimisers keep the loaded state tensors, which must not alias the caller's.
        state = copy.deepcopy(state)
        self.policy.load_state_dict(state["policy"])
        self.value.head.load_state_dict(state["value_head"])
        self.learner.load_state_dict(state["learner"])
        self.iteration = int(state["iteration"])
        self._action_generator.set_state(state["action_generator"])
        self._rng.bit_generator.state = state["rng"]
        if self.token_stats is not None:
            vars(self.token_stats).update(state["token_stats"])
