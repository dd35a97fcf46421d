"""What a run is: the request a user makes (``benchmark run``'s options, a sweep's grid cell) and the fully
resolved, hashed :class:`RunSpec` it becomes. Resolving validates every choice before anything runs or is
written; :mod:`benchmark.run` executes a spec.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from benchmark import registry
from benchmark.agent import PRECISIONS, check_precision
from benchmark.config import config_to_dict, resolve_config
from benchmark.errors import BenchmarkError
from benchmark.profiles import get_profile
from benchmark.protocol import EvalSettings
from benchmark.suites import SUITES, check_suite_name

DEFAULT_PRECISION = PRECISIONS[0]


@dataclass(frozen=True)
class RunSpec:
    """A fully resolved run; its JSON form is hashed into :attr:`run_id`.

    ``precision`` (``--precision``) appears in that JSON only when it is not the default fp32: every run id
    made before the field existed stays what it was, and a bf16 run gets its own.
    """

    method: str
    suite: str
    seed: int
    profile: str
    budget_env_steps: int
    eval_grid: tuple[int, ...]
    eval: EvalSettings
    agent_config: dict[str, Any] = field(hash=False)
    precision: str = DEFAULT_PRECISION

    def to_json(self) -> dict[str, Any]:
        data = json.loads(json.dumps(dataclasses.asdict(self)))
        if data["precision"] == DEFAULT_PRECISION:
            del data["precision"]
        return data

    @property
    def run_id(self) -> str:
        digest = hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:10]
        return f"{self.method}__{self.suite}__s{self.seed}__{digest}"


@dataclass(frozen=True)
class RunRequest:
    """What a user asks for one run: ``benchmark run``'s options, a sweep's grid cell. Resolving it
    (:meth:`resolve`) validates every choice and gives the :class:`RunSpec` (hashed into the run id) and the
    agent's config.

    ``budget_env_steps``, ``eval_tasks`` (N) and ``eval_episodes`` (K) default to the profile's;
    ``exploration_episodes`` (E) to the method's ``default_exploration_episodes(suite)`` capped at K - 1;
    ``overrides`` are ``key=value`` config fields (``--set``), applied after a variant's own;
    ``precision`` is fp32 or bf16 (the method must list it in its ``precisions``).
    """

    method: str
    suite: str
    seed: int
    profile: str
    budget_env_steps: int | None = None
    overrides: tuple[str, ...] = ()
    eval_tasks: int | None = None
    eval_episodes: int | None = None
    exploration_episodes: int | None = None
    precision: str = DEFAULT_PRECISION

    def resolve(self) -> tuple[RunSpec, Any]:
        """The resolved :class:`RunSpec` and config object.

        Raises:
            BenchmarkError: unknown method/suite/profile, non-positive budget, seed outside numpy's range,
                bad override, a config value out of range, an evaluation size out of range.
        """
        method, suite, seed = self.method, self.suite, self.seed
        registry.check_method_name(method)
        check_suite_name(suite)
        resolved_profile = get_profile(self.profile)
        suite_budget = resolved_profile.budget(suite, method)
        if not 0 <= seed < 2**32:
            raise BenchmarkError(f"seed must lie in [0, 2**32), got {seed}")
        if self.budget_env_steps is not None:
            if self.budget_env_steps <= 0:
                raise BenchmarkError(
                    f"budget must be a positive number of env steps, got {self.budget_env_steps}"
                )
            suite_budget = dataclasses.replace(suite_budget, env_steps=self.budget_env_steps)
        config, _ = resolve_config(method, suite, resolved_profile.tier_of(method), list(self.overrides))
        agent_class = registry.load_method(method)
        check_precision(self.precision)
        supported = getattr(agent_class, "precisions", (DEFAULT_PRECISION,))
        if self.precision not in supported:
            raise BenchmarkError(
                f"{method} does not support precision {self.precision} (it supports {', '.join(supported)})"
            )
        try:
            settings = _resolve_eval(suite_budget.eval, agent_class, suite, self)
        except ValueError as exc:
            raise BenchmarkError(f"{method} on {suite}: {exc}") from None
        suite_budget = dataclasses.replace(suite_budget, eval=settings)
        spec = RunSpec(
            method=method,
            suite=suite,
            seed=seed,
            profile=self.profile,
            budget_env_steps=suite_budget.env_steps,
            eval_grid=suite_budget.eval_grid(),
            eval=suite_budget.eval,
            agent_config=config_to_dict(config),
            precision=self.precision,
        )
        return spec, config

    @property
    def run_id(self) -> str:
        return self.resolve()[0].run_id

    def describe(self) -> str:
        return f"{self.method} {self.suite} seed={self.seed}"


def resolve_run(method: str, suite: str, seed: int, profile: str, **options: Any) -> tuple[RunSpec, Any]:
    """``RunRequest(method, suite, seed, profile, **options).resolve()``; ``overrides`` may be a list."""
    if "overrides" in options:
        options["overrides"] = tuple(options["overrides"] or ())
    return RunRequest(method, suite, seed, profile, **options).resolve()


def _resolve_eval(settings: EvalSettings, agent_class: Any, suite: str, request: RunRequest) -> EvalSettings:
    episodes = request.eval_episodes if request.eval_episodes is not None else settings.episodes
    exploration = request.exploration_episodes
    if exploration is None:
        exploration = min(int(agent_class.default_exploration_episodes(suite)), episodes - 1)
    return dataclasses.replace(
        settings,
        num_tasks=request.eval_tasks if request.eval_tasks is not None else settings.num_tasks,
        episodes=episodes,
        exploration_episodes=max(exploration, 0),
        action_mode=settings.action_mode or SUITES[suite].eval_action_mode,
    )
