"""The method registry: the only place where the harness learns which agents exist.

One line per method, ``name -> "module:Class"``, imported lazily so that ``benchmark list`` and the analysis
never import torch. Adding a baseline = copy ``baselines/_template/``, implement the contract of
:mod:`benchmark.agent`, and add its line here (no if/elif chain, no import-time decorator magic).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from benchmark.agent import AgentFactory
from benchmark.errors import BenchmarkError


@dataclass(frozen=True)
class MethodEntry:
    """Where a method's agent class lives, what it is, and (for an ablation) its config overrides.

    A variant of another method is an entry with the same ``agent`` and ``overrides`` (``key=value``, as
    ``run --set``): it is a method of its own in sweeps, results and figures, and its overrides are part of
    every run's resolved config (so of its run id).

    ``cost`` names the torch-free module beside the agent that counts what a configuration does (the
    :class:`benchmark.cost.MethodCost` protocol); the cost model imports it by name, never the agent.
    """

    agent: str  # "module:Class"
    description: str
    overrides: tuple[str, ...] = ()
    cost: str = ""  # "module"

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


METHODS: dict[str, MethodEntry] = {
    "random": MethodEntry(
        "baselines.random.agent:RandomAgent",
        "uniform random actions; the floor of every figure",
        cost="baselines.random.cost",
    ),
    "rl2": MethodEntry(
        "baselines.rl2.agent:RL2Agent",
        "RL²: LSTM memory across a trial, RecurrentPPO",
        cost="baselines.rl2.cost",
    ),
    "trmrl": MethodEntry(
        "agents.trmrl.agent:TrMRLAgent",
        "TrMRL: 5-token memory transformer, PPO (paper)",
        cost="agents.trmrl.cost",
    ),
    "trmrl-trial": MethodEntry(
        "agents.trmrl.agent:TrMRLAgent",
        "TrMRL ablation: the window is kept across a trial's episodes (memory_scope=trial; not in the paper)",
        overrides=("memory_scope=trial",),
        cost="agents.trmrl.cost",
    ),
    "pearl": MethodEntry(
        "baselines.pearl.agent:PEARLAgent",
        "PEARL: probabilistic context encoder + SAC (oyster)",
        cost="baselines.pearl.cost",
    ),
    "maml": MethodEntry(
        "baselines.maml.agent:MAMLAgent",
        "MAML-TRPO: policy-gradient inner step, TRPO meta-update (ProMP)",
        cost="baselines.maml.cost",
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
