"""RL² (Duan et al. 2016, arXiv 1611.02779) on sb3-contrib's RecurrentPPO.

A recurrent Gaussian policy reads the augmented observation ``[obs, previous action, previous reward, done]``
built by the harness's trial wrapper (:mod:`benchmark.trial`). Its hidden state is kept across all K episodes
of a trial and cleared between trials, so whatever it learns about the task in episode 1 can shape episode 2.

How that maps onto SB3 (ecosystem notes §3.2):

* The trial wrapper reports a whole trial as *one* gymnasium episode: inner episode boundaries are hidden
  (signalled only in ``info`` and the done slot of the token), so RecurrentPPO never sees an
  ``episode_start`` inside a trial and never zeroes the LSTM there. Its auto-reset at the trial's end draws a
  new meta_train task and zeroes the state, exactly RL²'s "reset per trial".
* Returns and GAE flow across inner episode boundaries (garage ``RL2``; ProMP ``RL2SampleProcessor``).
* The trial's end is a true end (no bootstrap from the value of the final observation), as garage computes
  GAE with a zero bootstrap at the end of the concatenated trial. SB3 would bootstrap because the wrapper
  ends trials by truncation; :class:`TrialInfoForSB3` turns that off (``bootstrap_trial_end`` turns it on).
* Rollouts and minibatches are whole numbers of trials: ``n_steps = trials_per_env x K x horizon`` per
  environment, ``batch_size = minibatch_trials x K x horizon`` steps (garage's batch 32 means 32 *paths*).
* Evaluation uses :meth:`RecurrentActorCriticPolicy.predict` with the hidden state carried by hand:
  ``begin_trial`` clears it, ``end_episode`` keeps it (RL²).
"""

from __future__ import annotations

import copy
from collections.abc import Generator
from typing import Any, ClassVar

import numpy as np
import torch
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecEnvWrapper, VecNormalize
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn
from torch import nn

from baselines.rl2.config import RL2Config
from baselines.rl2.provenance import config_record as _config_record
from baselines.rl2.provenance import default_config as _default_config
from benchmark.agent import AgentBase, EnvSpec, Runtime, TrainingContext, Transition, TrialPlan, row_mask
from benchmark.provenance import ConfigRecord


class RL2LstmPolicy(RecurrentActorCriticPolicy):
    """sb3-contrib's ``MlpLstmPolicy`` with a fast path for training on whole-trial sequences.

    RecurrentPPO cuts its minibatches into sequences at every episode start, so a start can only sit at the
    *first* position of a sequence. sb3-contrib nevertheless steps the LSTM one timestep at a time in Python
    whenever any start is present (sb3-contrib#113), which makes every RL² update (sequences of K x horizon
    steps that all begin with a trial start) hundreds of times slower than one cuDNN-style call. When the
    starts are all at position 0, zeroing the initial state of those sequences and running the LSTM once is
    the same computation; any other pattern falls back to the original loop.
    """

    # sb3-contrib annotates the return as `tuple[Tensor, Tensor]` but returns `(output, (h, c))`, as here.
    @staticmethod
    def _process_sequence(  # type: ignore[override]
        features: torch.Tensor,
        lstm_states: tuple[torch.Tensor, torch.Tensor],
        episode_starts: torch.Tensor,
        lstm: nn.LSTM,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        n_seq = lstm_states[0].shape[1]
        # `(n_seq * max_len, dim)` -> `(max_len, n_seq, dim)`, the layout sb3-contrib uses.
        features_sequence = features.reshape((n_seq, -1, lstm.input_size)).swapaxes(0, 1)
        starts = episode_starts.reshape((n_seq, -1)).swapaxes(0, 1)
        if not torch.all(starts[1:] == 0.0):
            return RecurrentActorCriticPolicy._process_sequence(  # type: ignore[return-value]
                features, lstm_states, episode_starts, lstm
            )
        keep = (1.0 - starts[0]).view(1, n_seq, 1)
        output, states = lstm(features_sequence, (keep * lstm_states[0], keep * lstm_states[1]))
        return torch.flatten(output.transpose(0, 1), start_dim=0, end_dim=1), states


class TrialInfoForSB3(VecEnvWrapper):
    """Adapts the trial wrapper's ``info`` to what RL² needs from SB3.

    The trial wrapper ends a trial by *truncation* (the K-th episode reached its horizon), which DummyVecEnv
    flags as ``TimeLimit.truncated``; RecurrentPPO then adds ``γ V(final obs)`` to the last reward. For RL²
    the trial is the whole, finite meta-episode and garage bootstraps zero there, so unless
    ``bootstrap_trial_end`` the flag is dropped.
    """

    def __init__(self, venv: VecEnv, bootstrap_trial_end: bool) -> None:
        super().__init__(venv)
        self.bootstrap_trial_end = bootstrap_trial_end

    def reset(self) -> Any:
        return self.venv.reset()

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = self.venv.step_wait()
        if not self.bootstrap_trial_end:
            for info in infos:
                info.pop("TimeLimit.truncated", None)
        return obs, rewards, dones, infos


class RL2Agent(AgentBase):
    """RL² baseline: a recurrent PPO policy whose memory spans the K episodes of a trial.

    Args:
        config: see :class:`RL2Config`; defaults per suite from :meth:`default_config`.
        spec: the suite's shapes, horizon and action bounds.
        seed: fixes the network's initialisation and SB3's sampling.

    Attributes:
        model: the ``RecurrentPPO`` that ``meta_train`` drives (``None`` before it starts), with SB3's
            public view of training: ``rollout_buffer`` holds the last rollout, ``get_env()`` the
            vectorised trial environments.
    """

    Config: ClassVar[type] = RL2Config

    def __init__(self, config: RL2Config, spec: EnvSpec, seed: int, runtime: Runtime | None = None) -> None:
        self.config = config
        self.spec = spec
        self.seed = seed
        self.runtime = runtime or Runtime()
        # The policy exists before meta-training (the harness evaluates the untrained agent at env_steps 0)
        # and is handed to RecurrentPPO in meta_train; a local RNG keeps its init a function of `seed` alone.
        with torch.random.fork_rng(devices=[]):  # the CPU's generator only; the GPUs' are not touched
            torch.random.default_generator.manual_seed(seed)
            self.policy = RL2LstmPolicy(
                spec.observation_space,
                spec.action_space,
                lambda _: config.learning_rate,
                **self._policy_kwargs(),
            ).to(self.runtime.torch_device())
        # Running std of the discounted training return (VecNormalize); None until meta_train creates it.
        self._return_rms: RunningMeanStd | None = None
        self.iterations = 0
        self.model: RecurrentPPO | None = None
        # Evaluation state, batched over the protocol's trials: actor LSTM (h, c) and `episode_start` flags.
        self._lstm_state: tuple[np.ndarray, ...] | None = None
        self._episode_starts = np.ones(0, dtype=bool)
        # SB3's loop state (last observation, LSTM states, global RNGs) at the last yield, for resuming.
        self._rollout_state: dict[str, Any] | None = None
        # SB3 samples from torch's global generator of the policy's device (the CPU's, or the GPU's), which
        # training uses too: evaluation swaps in its own generator states (seeded by begin_trial) so that
        # evaluating never shifts training's draws.
        self._eval_rng_state = torch.random.get_rng_state()
        self._eval_cuda_rng_state: torch.Tensor | None = None  # on a GPU: that device's generator

    @classmethod
    def default_config(cls, suite: str, profile: str) -> RL2Config:
        return _default_config(suite, profile)

    @classmethod
    def config_record(cls, suite: str, tier: str) -> ConfigRecord:
        return _config_record(suite, tier)

    def _policy_kwargs(self) -> dict[str, Any]:
        head = list(self.config.head_hidden_sizes)
        return {
            "lstm_hidden_size": self.config.lstm_hidden_size,
            "n_lstm_layers": 1,
            "net_arch": {"pi": head, "vf": list(head)},
            "log_std_init": self.config.log_std_init,
        }

    # --- meta-training -----------------------------------------------------------------------------------

    @property
    def steps_per_trial(self) -> int:
        """Env steps of a trial that runs to its full length (early terminations make trials shorter)."""
        return self.config.episodes_per_trial * self.spec.horizon

    @property
    def steps_per_iteration(self) -> int:
        """Env steps collected between two PPO updates (and two yields)."""
        return self.config.meta_batch * self.config.trials_per_env * self.steps_per_trial

    def _make_vec_env(self, ctx: TrainingContext) -> VecEnv:
        envs = [ctx.trial_env(self.config.episodes_per_trial) for _ in range(self.config.meta_batch)]
        venv: VecEnv = DummyVecEnv([lambda env=env: env for env in envs])  # type: ignore[misc]
        venv = TrialInfoForSB3(venv, self.config.bootstrap_trial_end)
        if self.config.normalize_reward:
            # garage: normalize(env, normalize_reward=True). SB3 scales by the running std of the discounted
            # return instead of garage's running std of the reward (a deviation, see README).
            venv = VecNormalize(venv, norm_obs=False, norm_reward=True, gamma=self.config.gamma)
            if self._return_rms is not None:
                venv.ret_rms = self._return_rms
            self._return_rms = venv.ret_rms
        return venv

    def meta_train(self, ctx: TrainingContext) -> Generator[None, None, None]:
        """One PPO iteration (``steps_per_iteration`` env steps, then ``n_epochs`` of updates) per yield."""
        cfg = self.config
        n_steps = cfg.trials_per_env * self.steps_per_trial
        total_trials = cfg.meta_batch * cfg.trials_per_env
        venv = self._make_vec_env(ctx)
        model = RecurrentPPO(
            RL2LstmPolicy,
            venv,
            learning_rate=cfg.learning_rate,
            n_steps=n_steps,
            batch_size=min(cfg.minibatch_trials, total_trials) * self.steps_per_trial,
            n_epochs=cfg.n_epochs,
            gamma=cfg.gamma,
            gae_lambda=cfg.gae_lambda,
            clip_range=cfg.clip_range,
            normalize_advantage=cfg.normalize_advantage,
            ent_coef=cfg.ent_coef,
            vf_coef=cfg.vf_coef,
            max_grad_norm=cfg.max_grad_norm if cfg.max_grad_norm is not None else float("inf"),
            policy_kwargs=self._policy_kwargs(),
            seed=self.seed,
            device=self.runtime.device,
            verbose=0,
        )
        # Train the agent's own policy (the one evaluated and checkpointed), not the copy SB3 just built.
        model.policy = self.policy
        self.model = model  # for inspection and for the rollout state in state_dict()
        if ctx.resuming and self._rollout_state is not None:
            self._restore_rollout(model, venv, self._rollout_state, self.runtime.cuda_devices())
        try:
            while not ctx.budget_exhausted:
                # One rollout of n_steps per env, then one `train()`. With reset_num_timesteps=False SB3 keeps
                # `_last_obs`, `_last_episode_starts` and `_last_lstm_states` between calls, so trials
                # straddling two calls continue where they stopped (tests/unit/test_rl2.py checks it).
                # log_interval=None (no console dump) is handled by SB3 at run time; its annotation says int.
                model.learn(
                    total_timesteps=n_steps * cfg.meta_batch,
                    reset_num_timesteps=False,
                    log_interval=None,  # type: ignore[arg-type]
                )
                self.iterations += 1
                # SB3 records its PPO statistics (losses, KL, clip fraction, explained variance) in the
                # logger; with log_interval=None nothing dumps them, so the latest values are all there.
                self.last_stats = {
                    name.removeprefix("train/"): float(value)
                    for name, value in model.logger.name_to_value.items()
                    if name.startswith("train/") and isinstance(value, (int, float))
                }
                yield
        finally:
            venv.close()

    # --- evaluation (benchmark.protocol) -----------------------------------------------------------------

    def begin_trial(self, plan: TrialPlan) -> None:
        """New tasks: zero hidden state for ``plan.num_trials`` trials; reseed the evaluation noise."""
        self._lstm_state = None
        self._episode_starts = np.ones(plan.num_trials, dtype=bool)
        self._eval_rng_state = torch.Generator().manual_seed(plan.seed).get_state()
        self._eval_cuda_rng_state = self._seeded_cuda_rng_state(plan.seed)

    def _seeded_cuda_rng_state(self, seed: int) -> torch.Tensor | None:
        """The state of the runtime's CUDA generator seeded with ``seed`` (None on the CPU); the generator
        itself is left as it was."""
        devices = self.runtime.cuda_devices()
        if not devices:
            return None
        with torch.random.fork_rng(devices=devices), torch.cuda.device(devices[0]):
            torch.cuda.manual_seed(seed)
            return torch.cuda.get_rng_state(devices[0])

    def act(self, obs: np.ndarray, deterministic: np.ndarray) -> np.ndarray:
        """Actions `(n, act_dim)` for augmented observations `(n, aug_dim)`, advancing the hidden state.

        Rows where ``deterministic`` is true take the mean action, the others a sample.
        """
        obs = np.asarray(obs, dtype=np.float32)
        n = obs.shape[0]
        if self._episode_starts.shape[0] != n:
            raise ValueError(f"act got {n} observations for {self._episode_starts.shape[0]} trials")
        mean_rows = row_mask(deterministic, n)
        state, starts = self._lstm_state, self._episode_starts
        actions = None
        if mean_rows.any():
            actions, self._lstm_state = self.policy.predict(
                obs, state=state, episode_start=starts, deterministic=True
            )
        if not mean_rows.all():
            devices = self.runtime.cuda_devices()  # [] on the CPU; SB3 samples on the policy's device
            with torch.random.fork_rng(devices=devices):  # the global generators are restored on exit
                torch.random.set_rng_state(self._eval_rng_state)
                if devices and self._eval_cuda_rng_state is not None:
                    torch.cuda.set_rng_state(self._eval_cuda_rng_state, devices[0])
                sampled, self._lstm_state = self.policy.predict(
                    obs, state=state, episode_start=starts, deterministic=False
                )
                self._eval_rng_state = torch.random.get_rng_state()
                if devices:
                    self._eval_cuda_rng_state = torch.cuda.get_rng_state(devices[0])
            # Both passes advance the LSTM from the same state with the same input: the same new state.
            actions = sampled if actions is None else np.where(mean_rows[:, None], actions, sampled)
        self._episode_starts = np.zeros(n, dtype=bool)
        return np.asarray(actions, dtype=np.float32).reshape(n, self.spec.act_dim)

    def observe(self, transition: Transition) -> None:
        """Nothing to do: the next token already carries the previous action, reward and done."""

    def end_episode(self, mask: np.ndarray) -> None:
        """RL²: the hidden state is kept across the inner episodes of a trial."""

    @property
    def hidden_state(self) -> tuple[np.ndarray, ...] | None:
        """The actor's evaluation LSTM state ``(h, c)``, each `(1, n, hidden)`; None after begin_trial."""
        return self._lstm_state

    # --- checkpoints ---------------------------------------------------------------------------------------

    def state_dict(self, include_buffers: bool = True) -> dict[str, Any]:
        """Network and optimizer weights, the reward normaliser's statistics, the iteration count."""
        state: dict[str, Any] = {
            "policy": self.policy.state_dict(),
            "optimizer": self.policy.optimizer.state_dict(),
            "iterations": self.iterations,
            "return_rms": None,
        }
        if self._return_rms is not None:
            rms = self._return_rms
            # Tensors, not numpy values: a checkpoint loads with a plain torch.load(weights_only=True).
            state["return_rms"] = {
                "mean": torch.tensor(np.asarray(rms.mean, dtype=np.float64)),
                "var": torch.tensor(np.asarray(rms.var, dtype=np.float64)),
                "count": float(rms.count),
            }
        if self.model is not None and self.model._last_obs is not None:
            state["rollout"] = self._capture_rollout(self.model, self.runtime.cuda_devices())
        return state

    @staticmethod
    def _capture_rollout(model: RecurrentPPO, cuda_devices: list[int]) -> dict[str, Any]:
        """What RecurrentPPO carries from one ``learn`` call to the next, plus the global RNGs it draws from
        (on a GPU, ``cuda_rng``: the device's generator, where SB3 samples actions).

        A resumed run restores it after building a new RecurrentPPO (whose constructor reseeds the global
        generators), so the continued rollout is the uninterrupted one.
        """
        lstm: Any = model._last_lstm_states
        venv = model.get_env()
        numpy_rng = np.random.get_state(legacy=False)  # noqa: NPY002 - SB3 shuffles minibatches with it
        # Arrays as tensors (the MT19937 key as int64): a plain torch.load(weights_only=True) reads them.
        numpy_rng["state"]["key"] = torch.from_numpy(numpy_rng["state"]["key"].astype(np.int64))
        rollout = {
            "last_obs": torch.from_numpy(np.array(model._last_obs)),
            "last_episode_starts": torch.from_numpy(np.array(model._last_episode_starts)),
            "lstm_pi": [t.detach().cpu().clone() for t in lstm.pi],
            "lstm_vf": [t.detach().cpu().clone() for t in lstm.vf],
            "num_timesteps": int(model.num_timesteps),
            "torch_rng": torch.random.get_rng_state(),
            "numpy_rng": numpy_rng,
            "returns": torch.from_numpy(np.array(venv.returns)) if isinstance(venv, VecNormalize) else None,
        }
        for index in cuda_devices:
            rollout["cuda_rng"] = torch.cuda.get_rng_state(index)
        return rollout

    @staticmethod
    def _restore_rollout(
        model: RecurrentPPO, venv: VecEnv, rollout: dict[str, Any], cuda_devices: list[int]
    ) -> None:
        from sb3_contrib.common.recurrent.type_aliases import RNNStates

        device = model.device
        model._last_obs = _as_numpy(rollout["last_obs"])  # type: ignore[assignment]
        model._last_episode_starts = _as_numpy(rollout["last_episode_starts"])
        model._last_lstm_states = RNNStates(  # type: ignore[assignment]
            tuple(t.to(device) for t in rollout["lstm_pi"]), tuple(t.to(device) for t in rollout["lstm_vf"])
        )
        model.num_timesteps = int(rollout["num_timesteps"])
        torch.random.set_rng_state(rollout["torch_rng"])
        # A GPU's stream where one was saved (the harness resumes a run only on the device type that wrote
        # it; a state from the CPU leaves the stream as RecurrentPPO's seeding set it).
        for index in cuda_devices:
            if rollout.get("cuda_rng") is not None:
                torch.cuda.set_rng_state(rollout["cuda_rng"], index)
        numpy_rng = dict(rollout["numpy_rng"])
        numpy_rng["state"] = dict(
            numpy_rng["state"], key=_as_numpy(numpy_rng["state"]["key"]).astype(np.uint32)
        )
        np.random.set_state(numpy_rng)  # noqa: NPY002
        if rollout["returns"] is not None and isinstance(venv, VecNormalize):
            venv.returns = _as_numpy(rollout["returns"])

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # A deep copy: torch optimisers keep the loaded state tensors, which must not alias the caller's.
        state = copy.deepcopy(state)
        self.policy.load_state_dict(state["policy"])
        self.policy.optimizer.load_state_dict(state["optimizer"])
        self.iterations = int(state["iterations"])
        self._rollout_state = state.get("rollout")
        if state.get("return_rms") is not None:
            rms = RunningMeanStd(shape=())
            rms.mean = _as_numpy(state["return_rms"]["mean"]).astype(np.float64)
            rms.var = _as_numpy(state["return_rms"]["var"]).astype(np.float64)
            rms.count = float(state["return_rms"]["count"])
            self._return_rms = rms
        else:
            self._return_rms = None


def _as_numpy(value: Any) -> np.ndarray:
    """A checkpoint's array back as numpy (tensors since checkpoints hold no numpy values; older ones did)."""
    return value.numpy().copy() if isinstance(value, torch.Tensor) else np.array(value)


__all__ = ["RL2Agent", "RL2Config", "RL2LstmPolicy", "TrialInfoForSB3"]
