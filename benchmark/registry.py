"""The method registry: the only place where the harness learns which agents exist.

One line per method, ``name -> "module:Class"``, imported lazily so that ``benchmark list`` and the analysis
never import torch. Adding a baseline = copy ``baselines/_template/``, implement the contract of
:mod:`benchmark.agent`, and add its line here (no if/elif chain, no import-time decorator magic).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from benchmark.agent import AgentFactory
from benchmark.errors import BenchmarkError


@dataclass(frozen=True)
class MethodEntry:
    """Where a method's agent class lives, what it is, and (for an ablation) its config overrides.

    A variant of another method is an entry with the same ``agent`` and ``overrides`` (``key=value``, as
    ``run --set``): it is a method of its own in sweeps, results and figures, and its overrides are part of
    every run's resolved config (so of its run id).

    The cost model reads the torch-free module beside the agent that counts what a configuration does
    (:meth:`cost_module`, the :class:`benchmark.cost.MethodCost` protocol) by name, never the agent.
    """

    agent: str  # "module:Class"
    description: str
    overrides: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ("smoke", "quick")
    """the profiles whose default grids include the method (:mod:`benchmark.profiles`); a new method joins
    the smoke and quick grids, and the long, metaworld and paper grids (days of compute) only when its entry
    says so.
    Any method runs under any profile when named (``sweep --methods``, ``run --method``)."""
    cost: str = ""
    """the torch-free module that counts what a configuration does, for the cost model
    (:mod:`benchmark.cost`); empty: ``cost.py`` beside the agent's module, where there is one"""

    def cost_module(self) -> str | None:
        """The cost module's name (:attr:`cost`, else ``cost`` beside the agent's module), or None."""
        if self.cost:
            return self.cost
        package = self.agent.split(":")[0].rpartition(".")[0]
        candidate = f"{package}.cost"
        try:
            return candidate if importlib.util.find_spec(candidate) is not None else None
        except ModuleNotFoundError:
            return None

    def load(self) -> AgentFactory:
        """The agent class; a module that fails to import or lacks the class is a one-line error."""
        module_name, class_name = self.agent.split(":")
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # ImportError, or any error the module raises while importing
            raise BenchmarkError(
                f"cannot import {module_name} for {self.agent!r} ({type(exc).__name__}: {exc})"
            ) from None
        try:
            return getattr(module, class_name)
        except AttributeError:
            raise BenchmarkError(f"{module_name} has no class {class_name!r} ({self.agent!r})") from None


EVERY_PROFILE = ("smoke", "quick", "long", "metaworld", "paper")
"""the paper's methods join every profile's grid"""

METHODS: dict[str, MethodEntry] = {
    "random": MethodEntry(
        "baselines.random.agent:RandomAgent",
        "uniform random actions; the floor of every figure",
        profiles=EVERY_PROFILE,
    ),
    "rl2": MethodEntry(
        "baselines.rl2.agent:RL2Agent",
        "RL²: LSTM memory across a trial, RecurrentPPO",
        profiles=EVERY_PROFILE,
    ),
    "trmrl": MethodEntry(
        "agents.trmrl.agent:TrMRLAgent",
        "TrMRL: 5-token memory transformer, PPO (paper)",
        profiles=EVERY_PROFILE,
    ),
    "trmrl-trial": MethodEntry(
        "agents.trmrl.agent:TrMRLAgent",
        "TrMRL ablation: the window is kept across a trial's episodes (memory_scope=trial; not in the paper)",
        overrides=("memory_scope=trial",),
        profiles=("smoke", "quick", "paper"),
    ),
    "pearl": MethodEntry(
        "baselines.pearl.agent:PEARLAgent",
        "PEARL: probabilistic context encoder + SAC (oyster)",
        profiles=EVERY_PROFILE,
    ),
    "maml": MethodEntry(
        "baselines.maml.agent:MAMLAgent",
        "MAML-TRPO: policy-gradient inner step, TRPO meta-update (ProMP)",
        profiles=EVERY_PROFILE,
    ),
}


def check_method_name(name: str) -> str:
    """Return ``name`` if it is a registered method, else raise a one-line :class:`BenchmarkError`."""
    if name not in METHODS:
        raise BenchmarkError(f"unknown method {name!r}; known methods: {', '.join(METHODS)}")
    return name


def method_names(variants: bool = True) -> tuple[str, ...]:
    """Registered methods in registry order; ``variants=False`` leaves out the ablations (the entries with
    overrides)."""
    return tuple(name for name, entry in METHODS.items() if variants or not entry.overrides)


def base_method(name: str) -> str:
    """The method a variant is an ablation of (the registered one with the same agent and no overrides);
    ``name`` itself for a method that is not a variant."""
    entry = METHODS[check_method_name(name)]
    if not entry.overrides:
        return name
    return next((m for m, e in METHODS.items() if e.agent == entry.agent and not e.overrides), name)


def load_method(name: str) -> AgentFactory:
    return METHODS[check_method_name(name)].load()


def methods_of_profile(profile: str) -> tuple[str, ...]:
    """The methods whose entries join ``profile``'s default grid, in registry order."""
    return tuple(name for name, entry in METHODS.items() if profile in entry.profiles)
