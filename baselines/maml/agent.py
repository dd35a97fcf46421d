"""MAML-TRPO (Finn et al. 2017, arXiv 1703.03400) as ProMP and garage ran it for the TrMRL paper.

One meta-iteration (ProMP ``meta_policy_search/meta_trainer.py`` with ``TRPOMAML``):

1. draw ``meta_batch_size`` meta_train tasks from the harness's sampler and collect ``rollouts_per_task``
   episodes per task with the meta-parameters ``theta`` (sampled actions);
2. fit a linear feature baseline per task, compute advantages and take the inner policy-gradient step per
   task (:mod:`baselines.maml.inner`), giving adapted parameters ``theta'_b`` (repeated for
   ``num_inner_grad_steps``, each on fresh rollouts of the latest parameters);
3. collect ``rollouts_per_task`` post-update episodes per task with ``theta'_b``;
4. TRPO on ``theta`` (:mod:`baselines.maml.trpo`): the surrogate of the post-update episodes under parameters
   adapted *differentiably* from the pre-update data (the second-order meta-gradient), ``-mean ratio * A``
   (ProMP) or ``-mean log pi * A`` (garage; ``outer_objective``), the KL between the adapted policies before
   and after the step on the post-update observations as the trust region (Hessian-vector products through
   the inner step), conjugate gradient and a backtracking line search.

Every environment comes from the harness (``ctx.trial_batch``): one batch of ``meta_batch_size x
rollouts_per_task`` single-episode trials stepped together, so the budget counts pre- and post-update steps.
The policy reads only the raw observation (MAML is memoryless; it adapts by the gradient step, not from the
RL² token's previous action and reward).

Evaluation (:mod:`benchmark.protocol`): the exploration episodes of each trial play the pre-update policy
with sampled actions; when a trial finishes its last exploration episode, the inner step(s) run on that
trial's own exploration data (batched over the trials that finish together) and its later episodes play the
adapted parameters. With ``exploration_episodes == 0`` no adaptation happens: MAML plays ``theta``.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from baselines.maml.baseline import task_advantages
from baselines.maml.config import MAMLConfig
from baselines.maml.inner import TaskBatch, adapt, masked_task_mean
from baselines.maml.policy import (
    Outputs,
    ParamDict,
    expand_params,
    has_std_head,
    init_params,
    is_batched,
    kl_divergence,
    log_prob,
    mean_and_log_std,
)
from baselines.maml.provenance import config_record as _config_record
from baselines.maml.provenance import default_config as _default_config
from baselines.maml.trpo import backtracking_line_search, flatten, natural_step, unflatten
from benchmark.agent import AgentBase, EnvSpec, Runtime, TrainingContext, Transition, TrialPlan, row_mask
from benchmark.constraints import check_meta_batch_covers_classes
from benchmark.provenance import ConfigRecord
from benchmark.trial import TrialBatch


def meta_objective(
    objective: Literal["likelihood_ratio", "log_likelihood"],
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
) -> torch.Tensor:
    """The outer loss: a scalar from `(B, N)` log-likelihoods of the post-update actions under the candidate
    adapted policies (``logp``) and under the adapted policies that collected them (``old_logp``).

    ``likelihood_ratio``: ``-mean_task mean_steps(exp(logp - old_logp) * A)`` (ProMP
    ``meta_policy_search/meta_algos/trpo_maml.py``). ``log_likelihood``: ``-mean_task mean_steps(logp * A)``
    (garage ``src/garage/torch/algos/maml.py`` ``_compute_meta_loss`` through ``VPG._compute_loss``,
    ``src/garage/torch/algos/vpg.py``); ``old_logp`` is not used.
    """
    if objective == "log_likelihood":
        return -masked_task_mean(logp * advantages, mask).mean()
    ratio = torch.exp(logp - old_logp)
    return -masked_task_mean(ratio * advantages, mask).mean()


def to_env_action(raw: np.ndarray, low: np.ndarray, high: np.ndarray, action_scale: float) -> np.ndarray:
    """The env's action `(n, act_dim)` for the policy's raw (unclipped) actions ``raw`` and the box
    ``[low, high]`` (float32).

    ProMP's ``normalize(env)`` (``meta_policy_search/envs/normalized_env.py``): the policy acts in
    ``[-action_scale, action_scale]^d`` (its ``normalization_scale``), mapped affinely onto the action box and
    clipped: ``low + (a / scale + 1) (high - low) / 2``, i.e. ``clip(a / scale, -1, 1)`` on our suites, whose
    boxes are [-1, 1]. With scale 1 (garage: no rescaling) it is clipping alone. The policy keeps ``raw``:
    its log-probabilities (inner step, meta-update) are of the unscaled action.
    """
    low = np.asarray(low, dtype=np.float32)
    high = np.asarray(high, dtype=np.float32)
    # No division at scale 1: the arithmetic (and so every result) is what it was before the scale.
    unit = np.clip(raw if action_scale == 1.0 else raw / action_scale, -1.0, 1.0)
    return (low + (unit + 1.0) * 0.5 * (high - low)).astype(np.float32)


class MAMLAgent(AgentBase):
    """MAML-TRPO baseline: a Gaussian MLP policy meta-learned to improve by one policy-gradient step.

    Args:
        config: see :class:`MAMLConfig`; defaults per suite from :meth:`default_config`.
        spec: the suite's shapes, horizon and action bounds.
        seed: fixes the initial parameters and the training noise.
        runtime: where to compute (device); ``None`` is the CPU.
    """

    Config: ClassVar[type] = MAMLConfig

    def __init__(self, config: MAMLConfig, spec: EnvSpec, seed: int, runtime: Runtime | None = None) -> None:
        self.config = config
        self.spec = spec
        self.runtime = runtime or Runtime()
        self.device = self.runtime.torch_device()
        init_seed, train_seed = np.random.SeedSequence([seed, 0x3A1]).generate_state(2)
        # Parameters are drawn on the CPU with a local generator: the same seed gives the same policy on any
        # device, whatever else used torch's global generator.
        params = init_params(
            spec.obs_dim,
            spec.act_dim,
            config.hidden_sizes,
            config.init_std,
            torch.Generator().manual_seed(int(init_seed)),
            config.std_head,
        )
        self.params: ParamDict = {name: value.to(self.device) for name, value in params.items()}
        self._rng = torch.Generator().manual_seed(int(train_seed))  # training noise only
        self._outputs = Outputs.from_stds(config.min_std, config.max_std, config.output_tanh)
        self._low = np.array(spec.action_low, dtype=np.float32)
        self._high = np.array(spec.action_high, dtype=np.float32)
        self.iterations = 0
        self.last_stats: dict[str, float] = {}
        # Evaluation state (begin_trial): per-trial parameters, exploration data and noise.
        self._plan = TrialPlan(num_trials=1, episodes=1)
        self._row_params: ParamDict = {}
        self._eval_rng = torch.Generator()
        self._episodes_done = np.zeros(0, dtype=np.int64)
        self._step_in_episode = np.zeros(0, dtype=np.int64)
        self._adapted = np.zeros(0, dtype=bool)
        self._explore_obs = np.zeros((0, 0, 0, 0), dtype=np.float32)
        self._explore_actions = np.zeros((0, 0, 0, 0), dtype=np.float32)
        self._explore_rewards = np.zeros((0, 0, 0))
        self._explore_mask = np.zeros((0, 0, 0), dtype=bool)
        self._last_actions: np.ndarray | None = None

    @classmethod
    def default_config(cls, suite: str, profile: str) -> MAMLConfig:
        return _default_config(suite, profile)

    @classmethod
    def config_record(cls, suite: str, tier: str) -> ConfigRecord:
        return _config_record(suite, tier)

    @classmethod
    def validate_config(cls, config: MAMLConfig, suite: str) -> None:
        """A Meta-World meta-batch covers every training class equally (the harness's task sampler cycles
        through them)."""
        check_meta_batch_covers_classes(config.meta_batch_size, suite)

    @classmethod
    def default_exploration_episodes(cls, suite: str) -> int:
        """ProMP and garage adapt on one batch of exploration rollouts: one exploration episode per trial."""
        return 1

    # --- the policy ------------------------------------------------------------------------------------

    def _sample(
        self, params: ParamDict, obs: np.ndarray, deterministic: np.ndarray, generator: torch.Generator
    ) -> np.ndarray:
        """Raw (unclipped) actions `(n, act_dim)` for raw observations `(n, obs_dim)`; batched params: one
        parameter set per row."""
        obs_t = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        with torch.no_grad():
            if is_batched(params):
                mean, log_std = mean_and_log_std(params, obs_t.unsqueeze(1), self._outputs)
                mean, log_std = mean.squeeze(1), log_std.squeeze(1)
            else:
                mean, log_std = mean_and_log_std(params, obs_t, self._outputs)
            # Noise on the CPU generator, then moved: the same draws on every device.
            noise = torch.randn(mean.shape, generator=generator).to(self.device)
            sampled = mean + torch.exp(log_std) * noise
            keep_mean = torch.as_tensor(np.array(deterministic, dtype=bool), device=self.device).unsqueeze(-1)
            action = torch.where(keep_mean, mean, sampled)
        return action.cpu().numpy().astype(np.float32)

    # --- meta-training -----------------------------------------------------------------------------------

    @property
    def steps_per_iteration(self) -> int:
        """Env steps of one meta-iteration when no episode ends early."""
        cfg = self.config
        return (
            cfg.meta_batch_size * cfg.rollouts_per_task * self.spec.horizon * (cfg.num_inner_grad_steps + 1)
        )

    def meta_train(self, ctx: TrainingContext) -> Generator[None, None, None]:
        """One meta-iteration (pre-update rollouts, inner step(s), post-update rollouts, TRPO) per yield."""
        cfg = self.config
        tasks, rollouts = cfg.meta_batch_size, cfg.rollouts_per_task
        batch = ctx.trial_batch(tasks * rollouts, episodes_per_trial=1, autoreset=False)
        leaders = list(range(0, tasks * rollouts, rollouts))  # the first row of each task's rollouts
        try:
            while not ctx.budget_exhausted:
                started = time.perf_counter()
                # The context's sampler draws the tasks (class-stratified on Meta-World); the other rows of a
                # task replay it by its opaque id.
                _, infos = batch.reset(rows=leaders)
                row_tasks = np.repeat([int(infos[r]["task_id"]) for r in leaders], rollouts)
                inner_batches: list[TaskBatch] = []
                params: ParamDict = self.params
                for step in range(cfg.num_inner_grad_steps + 1):
                    obs, _ = batch.reset(task_ids=row_tasks.tolist())
                    data = self._collect(batch, obs, params)
                    if step == cfg.num_inner_grad_steps:
                        break
                    inner_batches.append(data)
                    if not is_batched(params):
                        params = expand_params(params, tasks)
                    params = adapt(params, [data], cfg.inner_lr, self._outputs)
                update_started = time.perf_counter()
                stats = self.meta_update(inner_batches, data)
                stats["update_seconds"] = time.perf_counter() - update_started
                self.iterations += 1
                self.last_stats = {
                    **stats,
                    "pre_update_return": float(inner_batches[0].returns.mean()),
                    "post_update_return": float(data.returns.mean()),
                    "iteration_seconds": time.perf_counter() - started,
                }
                yield
        finally:
            for env in batch.envs:
                env.close()

    def _collect(self, batch: TrialBatch, obs: np.ndarray, params: ParamDict) -> TaskBatch:
        """One episode per row of ``batch`` (just reset; first observations ``obs``) with ``params``
        (shared or task-batched), processed into advantages per task."""
        cfg = self.config
        n, horizon = len(batch), self.spec.horizon
        layout = self.spec.layout
        row_params = params
        if is_batched(params):
            row_params = {k: v.repeat_interleave(cfg.rollouts_per_task, dim=0) for k, v in params.items()}
        obs_buf = np.zeros((n, horizon, self.spec.obs_dim), dtype=np.float32)
        act_buf = np.zeros((n, horizon, self.spec.act_dim), dtype=np.float32)
        rew_buf = np.zeros((n, horizon))
        mask = np.zeros((n, horizon), dtype=bool)
        t = np.zeros(n, dtype=np.int64)
        sampled = np.zeros(n, dtype=bool)  # meta-training always samples its actions
        while batch.active.any():
            raw_obs = layout.obs(obs)
            actions = self._sample(row_params, raw_obs, sampled, self._rng)
            step = batch.step(to_env_action(actions, self._low, self._high, cfg.action_scale))
            rows = np.flatnonzero(step.active)
            obs_buf[rows, t[rows]] = raw_obs[rows]
            act_buf[rows, t[rows]] = actions[rows]
            rew_buf[rows, t[rows]] = step.reward[rows]
            mask[rows, t[rows]] = True
            t[rows] += 1
            obs = step.obs
        shape = (cfg.meta_batch_size, cfg.rollouts_per_task, horizon)
        obs_4d = obs_buf.reshape(*shape, -1)
        advantages = task_advantages(
            obs_4d,
            rew_buf.reshape(shape),
            mask.reshape(shape),
            cfg.discount,
            cfg.gae_lambda,
            cfg.normalize_advantages,
            cfg.baseline_reg,
        )
        return TaskBatch.from_arrays(
            obs_4d,
            act_buf.reshape(*shape, -1),
            advantages,
            mask.reshape(shape),
            rew_buf.reshape(shape),
            self.device,
        )

    def meta_update(self, inner_batches: list[TaskBatch], post: TaskBatch) -> dict[str, float]:
        """TRPO on the meta-parameters through the inner step(s) (ProMP ``TRPOMAML.optimize_policy``): one
        step of :attr:`params` on fixed data, as :meth:`meta_train` takes after each iteration's rollouts.

        Args:
            inner_batches: the pre-update data of each inner step, `(meta_batch_size, N, ...)` per batch.
            post: the post-update data, collected by the policies adapted on ``inner_batches``.

        Returns:
            The objective before and after the step (``surrogate_before``, ``surrogate_after``), the step's
            KL, whether the line search accepted a step, its backtracks and the policy's mean std.

        The objective (``outer_objective``), minimised and tested by the line search, on the post-update
        data with the policy re-adapted from the candidate meta-parameters:

        * ``likelihood_ratio``: ``-mean_task mean_steps(pi / pi_old * A)``, ``pi_old`` the adapted policy that
          collected the data (ProMP ``meta_policy_search/meta_algos/trpo_maml.py``);
        * ``log_likelihood``: ``-mean_task mean_steps(log pi * A)``, garage's meta-loss
          (``src/garage/torch/algos/maml.py`` ``_compute_meta_loss``: the inner VPG's ``_compute_loss``,
          whose objective is ``log_likelihoods * advantages``, ``src/garage/torch/algos/vpg.py``). Its
          gradient at the current parameters equals the ratio's; its values, which the line search
          compares, differ.
        """
        cfg = self.config
        tasks = post.obs.shape[0]
        theta = {k: v.detach().clone().requires_grad_(True) for k, v in self.params.items()}
        adapted = adapt(
            expand_params(theta, tasks), inner_batches, cfg.inner_lr, self._outputs, create_graph=True
        )
        with torch.no_grad():
            old_mean, old_log_std = mean_and_log_std(adapted, post.obs, self._outputs)
            old_logp = log_prob(adapted, post.obs, post.actions, self._outputs)

        def surrogate_and_kl(params: ParamDict) -> tuple[torch.Tensor, torch.Tensor]:
            mean, log_std = mean_and_log_std(params, post.obs, self._outputs)
            logp = log_prob(params, post.obs, post.actions, self._outputs)
            surrogate = meta_objective(cfg.outer_objective, logp, old_logp, post.advantages, post.mask)
            kl = masked_task_mean(kl_divergence(old_mean, old_log_std, mean, log_std), post.mask).mean()
            return surrogate, kl

        loss, kl = surrogate_and_kl(adapted)
        leaves = list(theta.values())
        gradient = flatten(torch.autograd.grad(loss, leaves, retain_graph=True))
        kl_gradient = flatten(torch.autograd.grad(kl, leaves, create_graph=True))

        def hessian_vector(vector: torch.Tensor) -> torch.Tensor:
            product = torch.autograd.grad(kl_gradient @ vector, leaves, retain_graph=True)
            return flatten(product).detach() + cfg.cg_damping * vector

        full_step = natural_step(gradient.detach(), hessian_vector, cfg.max_kl, cfg.cg_iters)

        def evaluate(flat: torch.Tensor) -> tuple[float, float]:
            candidate = expand_params(unflatten(flat, theta), tasks)
            new_adapted = adapt(candidate, inner_batches, cfg.inner_lr, self._outputs)
            with torch.no_grad():
                new_loss, new_kl = surrogate_and_kl(new_adapted)
            return float(new_loss), float(new_kl)

        loss_before = float(loss.detach())
        result = backtracking_line_search(
            flatten(theta).detach(),
            full_step,
            evaluate,
            loss_before,
            cfg.max_kl,
            cfg.line_search_ratio,
            cfg.line_search_steps,
        )
        self.params = {k: v.detach().clone() for k, v in unflatten(result.params, theta).items()}
        return {
            "surrogate_before": loss_before,
            "surrogate_after": result.loss,
            "kl": result.kl,
            "step_accepted": float(result.accepted),
            "backtracks": float(result.backtracks),
            "policy_std": self._policy_std(post),
        }

    def _policy_std(self, post: TaskBatch) -> float:
        """Mean standard deviation of the meta-policy: of its log-std parameter (unclamped, as before the
        shared head existed), or, with the shared network, of its per-step std on the post-update
        observations (mean over action dimensions, steps, then tasks)."""
        if not has_std_head(self.params):
            return float(torch.exp(self.params["log_std"]).mean())
        with torch.no_grad():
            _, log_std = mean_and_log_std(self.params, post.obs, self._outputs)
            return float(masked_task_mean(torch.exp(log_std).mean(-1), post.mask).mean())

    # --- evaluation (benchmark.protocol) -----------------------------------------------------------------

    def begin_trial(self, plan: TrialPlan) -> None:
        """New trials: every row starts from the meta-parameters with empty exploration data; evaluation noise
        is reseeded from ``plan.seed``."""
        n, explore = plan.num_trials, plan.exploration_episodes
        self._plan = plan
        self._row_params = {
            k: v.detach().unsqueeze(0).repeat(n, *([1] * v.dim())) for k, v in self.params.items()
        }
        self._eval_rng = torch.Generator().manual_seed(
            int(np.random.SeedSequence([plan.seed, 0x3E7]).generate_state(1)[0])
        )
        self._episodes_done = np.zeros(n, dtype=np.int64)
        self._step_in_episode = np.zeros(n, dtype=np.int64)
        self._adapted = np.zeros(n, dtype=bool)
        horizon = self.spec.horizon
        self._explore_obs = np.zeros((n, explore, horizon, self.spec.obs_dim), dtype=np.float32)
        self._explore_actions = np.zeros((n, explore, horizon, self.spec.act_dim), dtype=np.float32)
        self._explore_rewards = np.zeros((n, explore, horizon))
        self._explore_mask = np.zeros((n, explore, horizon), dtype=bool)
        self._last_actions = None

    def act(self, obs: np.ndarray, deterministic: np.ndarray) -> np.ndarray:
        """Actions `(n, act_dim)`: each row with its own (pre- or post-update) parameters."""
        obs = np.asarray(obs, dtype=np.float32)
        if obs.shape[0] != self._episodes_done.shape[0]:
            raise ValueError(f"act got {obs.shape[0]} observations for {self._episodes_done.shape[0]} trials")
        mask = row_mask(deterministic, obs.shape[0])
        self._last_actions = self._sample(self._row_params, self.spec.layout.obs(obs), mask, self._eval_rng)
        return to_env_action(self._last_actions, self._low, self._high, self.config.action_scale)

    def observe(self, transition: Transition) -> None:
        """Record the exploration steps of rows still in their exploration episodes."""
        actions = self._last_actions if self._last_actions is not None else np.asarray(transition.action)
        rows = np.flatnonzero(
            np.asarray(transition.active, dtype=bool)
            & (self._episodes_done < self._plan.exploration_episodes)
            & (self._step_in_episode < self.spec.horizon)
        )
        episode, t = self._episodes_done[rows], self._step_in_episode[rows]
        self._explore_obs[rows, episode, t] = self.spec.layout.obs(
            np.asarray(transition.obs, dtype=np.float32)
        )[rows]
        self._explore_actions[rows, episode, t] = actions[rows]
        self._explore_rewards[rows, episode, t] = np.asarray(transition.reward)[rows]
        self._explore_mask[rows, episode, t] = True
        self._step_in_episode[np.asarray(transition.active, dtype=bool)] += 1

    def end_episode(self, mask: np.ndarray) -> None:
        """Rows that just finished their last exploration episode take the inner step(s) on their own data."""
        mask = np.asarray(mask, dtype=bool)
        self._episodes_done[mask] += 1
        self._step_in_episode[mask] = 0
        explore = self._plan.exploration_episodes
        ready = mask & (self._episodes_done == explore) & ~self._adapted
        if explore > 0 and ready.any():
            self._adapt_rows(np.flatnonzero(ready))

    def _adapt_rows(self, rows: np.ndarray) -> None:
        cfg = self.config
        advantages = task_advantages(
            self._explore_obs[rows],
            self._explore_rewards[rows],
            self._explore_mask[rows],
            cfg.discount,
            cfg.gae_lambda,
            cfg.normalize_advantages,
            cfg.baseline_reg,
        )
        data = TaskBatch.from_arrays(
            self._explore_obs[rows],
            self._explore_actions[rows],
            advantages,
            self._explore_mask[rows],
            self._explore_rewards[rows],
            self.device,
        )
        # One batch of exploration data serves every inner step (garage's MetaEvaluator adapts on one batch).
        start = expand_params({k: v.detach() for k, v in self.params.items()}, len(rows))
        adapted = adapt(start, [data] * cfg.num_inner_grad_steps, cfg.inner_lr, self._outputs)
        index = torch.as_tensor(rows, dtype=torch.long, device=self.device)
        for name, value in adapted.items():
            self._row_params[name][index] = value
        self._adapted[rows] = True

    @property
    def adapted_params(self) -> ParamDict:
        """The evaluation trials' current parameters (leading axis: trial), for tests and diagnostics."""
        return self._row_params

    # --- checkpoints ---------------------------------------------------------------------------------------

    def state_dict(self, include_buffers: bool = True) -> dict[str, Any]:
        """Meta-parameters, the training noise generator and the iteration count (plain tensors)."""
        return {
            "params": {k: v.detach().cpu().clone() for k, v in self.params.items()},
            "rng": self._rng.get_state(),
            "iterations": self.iterations,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.params = {k: torch.as_tensor(v).to(self.device).clone() for k, v in state["params"].items()}
        self._rng.set_state(state["rng"])
        self.iterations = int(state["iterations"])


__all__ = ["MAMLAgent", "MAMLConfig", "meta_objective", "to_env_action"]
