"""Profiles: the grids and budgets of ``smoke`` (seconds, tests), ``quick`` (every figure on 2 cores),
``long`` (halfcheetah-vel at 1M env steps for every method, longer than quick), ``metaworld`` (every
method learning ML1-Reach in its paper configuration, many CPU-hours) and ``paper`` (the paper's grid and
budgets; a cluster or GPU job).

A profile fixes, for every suite, the meta-training budget in env_steps, the evaluation grid and the
evaluation protocol's size, plus the default sweep grid (methods x suites x seeds); a method may have a
budget and a seed count of its own (:class:`MethodPlan`). This file is the reviewed record of what
``make reproduce-paper PROFILE=...`` runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from benchmark.errors import BenchmarkError
from benchmark.protocol import EvalSettings
from benchmark.registry import METHODS as REGISTERED_METHODS
from benchmark.registry import methods_of_profile
from benchmark.suites import SUITES, suites_of

CONFIG_TIERS = ("smoke", "quick", "paper")
"""The configuration tiers every method's ``default_config(suite, tier)`` knows: ``paper`` (the original's
values), ``quick`` (the same method, less work per iteration, so that a small budget holds many updates) and
``smoke`` (tiny, proves the plumbing). A profile names the tier its runs take
(:attr:`Profile.method_configs`)."""


def check_config_tier(tier: str) -> None:
    """Refuse a tier outside :data:`CONFIG_TIERS`; every method's ``default_config`` calls this first.

    Raises:
        BenchmarkError: the one-line error the CLI prints.
    """
    if tier not in CONFIG_TIERS:
        raise BenchmarkError(f"unknown configuration tier {tier!r}; known tiers: {', '.join(CONFIG_TIERS)}")


NON_METAWORLD = suites_of("toy", "locomotion")
"""point-nav and the MuJoCo bodies: budgets in hundreds of env steps per second"""
METAWORLD = suites_of("metaworld")


@dataclass(frozen=True)
class SuiteBudget:
    """Budget and evaluation protocol of one suite under one profile.

    Attributes:
        env_steps: meta-training budget.
        eval_points: number of evaluation points, evenly spaced on [0, env_steps] (both ends included).
        eval: the protocol's size at each point.
    """

    env_steps: int
    eval_points: int
    eval: EvalSettings

    def eval_grid(self) -> tuple[int, ...]:
        """The env_steps at which the harness evaluates: evenly spaced, 0 (untrained) and budget included."""
        grid = np.linspace(0, self.env_steps, max(self.eval_points, 2)).round().astype(np.int64)
        return tuple(int(x) for x in np.unique(grid))


@dataclass(frozen=True)
class MethodPlan:
    """One method's own share of a profile, where it differs from the profile's: a method that samples
    slowly gets fewer env steps, one whose claims need power gets more seeds. ``None`` keeps the profile's."""

    env_steps: int | None = None
    """meta-training budget on every suite; the profile's evaluation points spread over it"""
    seeds: int | None = None
    config_tier: str | None = None
    """the :data:`CONFIG_TIERS` entry this method's configuration comes from, where the profile's own
    would leave its budget too few updates to learn in (the tier's records say what it scales down)"""


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    methods: tuple[str, ...]
    suites: tuple[str, ...]
    seeds: int
    budgets: dict[str, SuiteBudget]
    method_configs: str = ""
    """The :data:`CONFIG_TIERS` entry the methods' configurations come from; empty: the profile's own name."""
    plans: Mapping[str, MethodPlan] = field(default_factory=dict)
    """Per-method budgets and seed counts that differ from the profile's (``metaworld``)."""

    def __post_init__(self) -> None:
        if not self.method_configs:
            object.__setattr__(self, "method_configs", self.name)
        if self.method_configs not in CONFIG_TIERS:
            raise ValueError(f"profile {self.name}: method_configs must be one of {CONFIG_TIERS}")
        for method, plan in self.plans.items():
            if plan.config_tier is not None and plan.config_tier not in CONFIG_TIERS:
                raise ValueError(f"profile {self.name}: {method}'s config_tier must be one of {CONFIG_TIERS}")

    def budget(self, suite: str, method: str | None = None) -> SuiteBudget:
        """``suite``'s budget, with ``method``'s own env_steps where its plan has them."""
        budget = self.budgets[suite]
        plan = self.plans.get(method or "", MethodPlan())
        return budget if plan.env_steps is None else replace(budget, env_steps=plan.env_steps)

    def tier_of(self, method: str) -> str:
        """The configuration tier ``method``'s runs take: its plan's, else the profile's."""
        return self.plans.get(method, MethodPlan()).config_tier or self.method_configs

    def seeds_of(self, method: str) -> int:
        """How many seeds ``method`` runs in this profile's default grid."""
        plan = self.plans.get(method, MethodPlan())
        return self.seeds if plan.seeds is None else plan.seeds


def _same_for(suites: tuple[str, ...], budget: SuiteBudget) -> dict[str, SuiteBudget]:
    return dict.fromkeys(suites, budget)


PAPER_SUITES = ("halfcheetah-vel", "halfcheetah-dir", "ant-dir", "ml1-reach", "ml1-push", "ml45")
"""The suites of the paper's figures (``plot_online_adaptation.py``)."""

SMOKE = Profile(
    name="smoke",
    description="seconds per run: proves the pipeline end to end, measures nothing",
    methods=methods_of_profile("smoke"),
    suites=("point-nav", "halfcheetah-vel", "ml1-push"),
    seeds=1,
    budgets={
        **_same_for(NON_METAWORLD, SuiteBudget(1_000, 2, EvalSettings(num_tasks=2, episodes=2))),
        "point-nav": SuiteBudget(400, 3, EvalSettings(num_tasks=4, episodes=2)),
        **_same_for(METAWORLD, SuiteBudget(1_000, 2, EvalSettings(num_tasks=2, episodes=1))),
    },
)

# Sized so that every method on the paper's suites and point-nav, 3 seeds, fits an afternoon on 2 cores: what
# it costs on this machine is the cost model's (`benchmark list`, `make eta PROFILE=quick`, from each run's
# configuration and the rates `make bench` measured); the profiles carry no hand-written time, so the
# CLI, the README and `make eta` print the one estimate. The budgets are far below the paper's: the curves
# show early learning only.
_MEASURED_SPLITS = ("meta_test", "ood")
QUICK = Profile(
    name="quick",
    description="every method on the paper's suites and point-nav, 3 seeds: every figure on 2 CPU cores",
    methods=methods_of_profile("quick"),
    # longest runs first: the pool finishes sooner
    suites=("ml45", "ml1-push", "ml1-reach", "ant-dir", "halfcheetah-vel", "halfcheetah-dir", "point-nav"),
    seeds=3,
    budgets={
        **_same_for(NON_METAWORLD, SuiteBudget(16_000, 3, EvalSettings(10, 3, _MEASURED_SPLITS))),
        "point-nav": SuiteBudget(100_000, 4, EvalSettings(20, 3, _MEASURED_SPLITS)),
        **_same_for(METAWORLD, SuiteBudget(20_000, 3, EvalSettings(5, 3, ("meta_train", "meta_test")))),
    },
)

# The paper plots every suite up to 5e7 env steps (52M for push; plot_online_adaptation.py), evaluates
# locomotion adaptation on 20 tasks x 6 episodes and Meta-World on 10 test tasks x 10 episodes, 3 seeds;
# this profile adds ML10 and defaults to 9 seeds (--seeds for more): `python -m analysis power` on the long
# pilot table (halfcheetah-vel, 1M env steps, 3 seeds) gives, for 80 % power at the observed effects, 4-11
# paired seeds for seven of its nine comparisons between methods (PEARL − TrMRL 4, TrMRL − RL² 9, TrMRL −
# PEARL out of distribution 11) and 21 and 58 for TrMRL against MAML (their difference at 1M is small);
# 9 is the median of the nine, and --seeds 21 buys the next.
PAPER_FIGURE_SEEDS = 3
"""Seeds behind each curve of the paper's figures (its runs; this profile defaults to more)."""
PAPER = Profile(
    name="paper",
    description="the paper's grid + ML10: 50M env steps, 20x6 / 10x10 evaluation, 9 seeds (by power)",
    methods=methods_of_profile("paper"),
    suites=(*PAPER_SUITES, "ml10"),
    seeds=9,
    budgets={
        **_same_for(NON_METAWORLD, SuiteBudget(50_000_000, 51, EvalSettings(num_tasks=20, episodes=6))),
        "point-nav": SuiteBudget(2_000_000, 21, EvalSettings(num_tasks=20, episodes=6)),
        **_same_for(METAWORLD, SuiteBudget(50_000_000, 51, EvalSettings(num_tasks=10, episodes=10))),
        "ml1-push": SuiteBudget(52_000_000, 53, EvalSettings(num_tasks=10, episodes=10)),
    },
)

# Longer runs than quick: halfcheetah-vel to 1M env steps for every method of the paper (MAML's quick
# meta-batch, 16k env steps per meta-iteration, gives ~60 meta-iterations), 3 seeds, evaluated at 11 points.
# The methods keep their quick configurations (PEARL's paper configuration alone would take days of CPU);
# TrMRL's quick configuration on locomotion is its paper configuration (measured at an earlier commit: TrMRL
# and PEARL ~1.5 h per run, the others minutes; `benchmark list` gives the cost model's estimate).
LONG = Profile(
    name="long",
    description="every method on halfcheetah-vel to 1M env steps (quick configs), 3 seeds",
    methods=methods_of_profile("long"),
    suites=("halfcheetah-vel",),
    seeds=3,
    budgets={
        **_same_for(NON_METAWORLD, SuiteBudget(1_000_000, 11, EvalSettings(10, 3, _MEASURED_SPLITS))),
        **_same_for(METAWORLD, SuiteBudget(1_000_000, 11, EvalSettings(5, 3, ("meta_train", "meta_test")))),
    },
    method_configs="quick",
)

# Evidence that every method learns Meta-World through the harness: ML1-Reach, each method in its paper
# configuration (the configuration tier "paper": garage PR #2287's launchers for RL², MAML and PEARL, the
# TrMRL repository's ML1 script), as many env steps as 2 CPU cores allow in a few days. RL², MAML and
# random sample fast and take 5M env steps and 5 seeds (40 RL² iterations of 25 tasks x 10 episodes x 500
# steps; 20 MAML meta-updates, which sample that batch before and after the inner step); TrMRL and PEARL
# sample 4-6x slower on a CPU and take 1M and 3 seeds, in their quick configurations (why: below).
# Evaluation: 11 points, 10 tasks of each split x 10 episodes (the paper's Meta-World protocol). `--suites
# ml45` adds ML45 at the same budgets. The cost model prices it (`sweep --profile metaworld --dry-run`).
METAWORLD_EVIDENCE = Profile(
    name="metaworld",
    description="every method on ml1-reach: 5M env steps x 5 seeds (RL², MAML, random; paper "
    "configurations), 1M x 3 (TrMRL, PEARL; quick configurations, so that 1M holds ~100-200 updates)",
    methods=methods_of_profile("metaworld"),
    suites=("ml1-reach",),
    seeds=5,
    budgets={
        **_same_for(NON_METAWORLD, SuiteBudget(5_000_000, 11, EvalSettings(10, 10, _MEASURED_SPLITS))),
        **_same_for(METAWORLD, SuiteBudget(5_000_000, 11, EvalSettings(10, 10, ("meta_train", "meta_test")))),
    },
    method_configs="paper",
    # At 1M env steps the paper configurations leave TrMRL 8 PPO iterations (25 trials x 10 episodes x 500
    # steps each) and PEARL 11 iterations of 40 gradient steps after a 225k-step initial pool (garage's
    # pearl_metaworld_ml1.py): nothing could be learned. Their quick tier shrinks the per-iteration batch
    # (TrMRL 2 trials; PEARL 5 tasks x 1k steps, 100 gradient steps) for 100 and 199 iterations.
    plans={
        "trmrl": MethodPlan(env_steps=1_000_000, seeds=3, config_tier="quick"),
        "pearl": MethodPlan(env_steps=1_000_000, seeds=3, config_tier="quick"),
    },
)

PROFILES: dict[str, Profile] = {p.name: p for p in (SMOKE, QUICK, LONG, METAWORLD_EVIDENCE, PAPER)}

# Every profile must budget every suite: a suite added to the registry without a budget fails at import;
# a method entry naming a profile that does not exist fails likewise.
for _name, _entry in REGISTERED_METHODS.items():
    _unknown = set(_entry.profiles) - set(PROFILES)
    assert not _unknown, f"method {_name} joins unknown profiles {sorted(_unknown)}"
for _profile in PROFILES.values():
    _missing = set(SUITES) - set(_profile.budgets)
    assert not _missing, f"profile {_profile.name} has no budget for {sorted(_missing)}"
    _unplanned = set(_profile.plans) - set(REGISTERED_METHODS)
    assert not _unplanned, f"profile {_profile.name} plans unknown methods {sorted(_unplanned)}"


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise BenchmarkError(f"unknown profile {name!r}; known profiles: {', '.join(PROFILES)}")
    return PROFILES[name]
