"""TEMPLATE for a new baseline: copy ``baselines/_template/`` to ``baselines/<your_method>/`` and fill it in.

As shipped it is a working agent (a linear-Gaussian policy that does not learn), so the contract tests run on
it; every ``# YOUR METHOD:`` comment marks where a real method does its work. Then add one line to
``benchmark/registry.py`` (``"your_method": MethodEntry("baselines.your_method.agent:YourAgent", "...")``)
and the contract tests, the CLI, sweeps and every figure pick it up.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from benchmark.agent import AgentBase, EnvSpec, Runtime, TrainingContext, Transition, TrialPlan, row_mask
from benchmark.constraints import checked, integer, number, optional
from benchmark.profiles import check_config_tier
from benchmark.provenance import ConfigRecord, ours
from benchmark.suites import check_suite_name


@dataclass(frozen=True, kw_only=True)
class TemplateConfig:
    """Every hyperparameter, with the paper's value as default and a one-line docstring under each field.

    YOUR METHOD: declare each field's range once, ``checked(default, check)`` with a check of
    :mod:`benchmark.constraints`; relations between fields go in a ``relations`` class attribute. The harness
    refuses an out-of-range value (``--set``) with a one-line error before anything runs."""

    meta_batch_size: int = checked(4, integer(at_least=1))
    """trials collected per iteration"""
    episodes_per_trial: int | None = checked(None, optional(integer(at_least=1)))
    """episodes per meta-training trial (None: the suite's default)"""
    init_std: float = checked(0.5, number(above=0))
    """standard deviation of the exploration noise"""


class TemplateAgent(AgentBase):
    """One-line summary of the method, with the paper it comes from."""

    Config: ClassVar[type] = TemplateConfig

    def __init__(
        self, config: TemplateConfig, spec: EnvSpec, seed: int, runtime: Runtime | None = None
    ) -> None:
        self.config = config
        self.spec = spec
        self.runtime = runtime or Runtime()  # YOUR METHOD: put networks on runtime.torch_device()
        self._rng = np.random.default_rng(seed)  # training noise
        self._eval_rng = np.random.default_rng(seed)  # evaluation noise: reseeded by begin_trial
        self._low = np.array(spec.action_low, dtype=np.float32)
        self._high = np.array(spec.action_high, dtype=np.float32)
        # YOUR METHOD: build networks and optimisers here (seed torch from `seed`).
        self.weights = np.zeros((spec.obs_dim, spec.act_dim), dtype=np.float32)

    @classmethod
    def config_record(cls, suite: str, tier: str) -> ConfigRecord:
        # YOUR METHOD: every field's value with its source, per suite and tier (see benchmark/provenance.py
        # and baselines/pearl/provenance.py). Cite the original code at a fixed commit, e.g.
        #     ORIGINAL = Repository("owner/name", "<40-hex commit>")
        #     paper = record(meta_batch_size=ORIGINAL.file("train.py").cite(4, 17), ...)
        # and write every value that is yours, or that differs, as a deviation with its reason:
        #     paper.scaled("smoke tier: proves the pipeline, measures nothing", meta_batch_size=2)
        check_suite_name(suite)
        check_config_tier(tier)
        paper = ours(
            "the template is not a published method: a linear-Gaussian policy that does not learn",
            meta_batch_size=4,
            episodes_per_trial=None,
            init_std=0.5,
        )
        if tier == "smoke":
            return paper.scaled("smoke tier: proves the pipeline, measures nothing", meta_batch_size=2)
        return paper

    @classmethod
    def default_config(cls, suite: str, profile: str) -> TemplateConfig:
        config: TemplateConfig = cls.config_record(suite, profile).build(TemplateConfig)
        return config

    def _policy(self, obs: np.ndarray, deterministic: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        mean = self.spec.layout.obs(obs) @ self.weights
        noise = self.config.init_std * rng.standard_normal(mean.shape, dtype=np.float32)
        action = np.where(row_mask(deterministic, len(obs))[:, None], mean, mean + noise)
        return np.clip(action, self._low, self._high).astype(np.float32)

    def meta_train(self, ctx: TrainingContext) -> Generator[None, None, None]:
        # Take every environment from ctx: the harness counts env_steps through them.
        batch = ctx.trial_batch(self.config.meta_batch_size, self.config.episodes_per_trial)
        obs, _ = batch.reset()
        while not ctx.budget_exhausted:
            returns: list[float] = []
            for _ in range(self.spec.horizon):
                step = batch.step(self._policy(obs, np.zeros(len(obs), bool), self._rng))
                obs = step.obs
                # A finished episode's return is in its info (the batch resets it: autoreset).
                returns += [float(step.infos[i]["episode_return"]) for i in np.flatnonzero(step.episode_end)]
            # YOUR METHOD: update parameters from what was collected.
            # Numbers about this iteration go to progress.csv (and TensorBoard): losses, rates, returns.
            self.last_stats = {"train_return": float(np.mean(returns))} if returns else {}
            yield  # the harness evaluates here when an evaluation grid point was crossed

    def begin_trial(self, plan: TrialPlan) -> None:
        # YOUR METHOD: clear memory / context / fast weights of `plan.num_trials` new trials; the first
        # `plan.exploration_episodes` episodes explore (MAML adapts after them, PEARL acts on its prior).
        self._eval_rng = np.random.default_rng([plan.seed, 0x7E3])

    def act(self, obs: np.ndarray, deterministic: np.ndarray) -> np.ndarray:
        # `deterministic[i]`: row i wants the mean action (False: a sample, e.g. in exploration episodes).
        return self._policy(obs, deterministic, self._eval_rng)

    def observe(self, transition: Transition) -> None:
        pass  # YOUR METHOD: append to the context of rows where transition.active

    def end_episode(self, mask: np.ndarray) -> None:
        pass  # YOUR METHOD: adapt between episodes (MAML inner step, PEARL posterior update)

    def state_dict(self, include_buffers: bool = True) -> dict[str, Any]:
        # Tensors and plain Python values only (no numpy arrays): checkpoint.pt then loads with a plain
        # torch.load(weights_only=True). YOUR METHOD: network.state_dict(), optimizer.state_dict(), ...
        return {"weights": self.weights.tolist(), "rng": self._rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.weights = np.array(state["weights"], dtype=np.float32)
        self._rng.bit_generator.state = state["rng"]
