"""Uniform random actions; meta-training only spends the budget (which measures the harness's throughput)."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from benchmark.agent import AgentBase, EnvSpec, Runtime, TrainingContext, Transition, TrialPlan
from benchmark.constraints import checked, integer
from benchmark.profiles import check_config_tier
from benchmark.provenance import ConfigRecord, ours
from benchmark.suites import check_suite_name


@dataclass(frozen=True, kw_only=True)
class RandomConfig:
    """Configuration of the random agent."""

    num_trials: int = checked(4, integer(at_least=1))
    """one-episode trials stepped together during meta-training (one yield per finished batch)"""


class RandomAgent(AgentBase):
    """Samples actions uniformly from the action box; ignores everything it observes."""

    Config: ClassVar[type] = RandomConfig

    def __init__(
        self, config: RandomConfig, spec: EnvSpec, seed: int, runtime: Runtime | None = None
    ) -> None:
        self.config = config
        self.spec = spec
        self._low = np.array(spec.action_low, dtype=np.float32)
        self._high = np.array(spec.action_high, dtype=np.float32)
        self._rng = np.random.default_rng(seed)  # training draws
        self._eval_rng = np.random.default_rng(seed)  # reseeded by every begin_trial

    @classmethod
    def config_record(cls, suite: str, tier: str) -> ConfigRecord:
        check_suite_name(suite)
        check_config_tier(tier)
        return ours(
            "the random agent is the floor of every figure, not a published method; the batch size only "
            "sets how many trials are stepped together while the budget is spent",
            num_trials=4,
        )

    @classmethod
    def default_config(cls, suite: str, profile: str) -> RandomConfig:
        config: RandomConfig = cls.config_record(suite, profile).build(RandomConfig)
        return config

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self._low, self._high, size=(n, self.spec.act_dim)).astype(np.float32)

    def meta_train(self, ctx: TrainingContext) -> Generator[None, None, None]:
        # Whole trials per iteration: every yield falls between trials, where a run can be resumed exactly.
        # One episode each: the random agent learns nothing, and an iteration stays num_trials episodes.
        batch = ctx.trial_batch(self.config.num_trials, episodes_per_trial=1, autoreset=False)
        while not ctx.budget_exhausted:
            batch.reset()
            returns: list[float] = []
            while batch.active.any():
                active = np.flatnonzero(batch.active)
                step = batch.step(self._sample(len(batch), self._rng))
                returns += [float(step.infos[i]["episode_return"]) for i in active[step.episode_end[active]]]
            self.last_stats = {"train_return": float(np.mean(returns))} if returns else {}
            yield

    def begin_trial(self, plan: TrialPlan) -> None:
        self._eval_rng = np.random.default_rng([plan.seed, 0x4A7D])

    def act(self, obs: np.ndarray, deterministic: np.ndarray) -> np.ndarray:
        return self._sample(obs.shape[0], self._eval_rng)

    def observe(self, transition: Transition) -> None:
        pass

    def end_episode(self, mask: np.ndarray) -> None:
        pass

    def state_dict(self, include_buffers: bool = True) -> dict[str, Any]:
        return {"rng": self._rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._rng.bit_generator.state = state["rng"]
