"""The cost model: seconds of one CPU core for a run, priced from the run's own configuration.

A run's cost is *work* (counted from its configuration and its suite's shapes) times *machine rates*
(measured by ``make bench``, :mod:`benchmark.bench`, in ``results/bench/bench.json``):

* **Work** (:class:`Work`): simulator steps and episode resets; dense layers applied to a number of rows,
  without gradient (acting, evaluation) or with one (updates: forward, backward and the optimizer step);
  attention over windows and recurrent (LSTM) steps; and framework calls outside those layers (``ops``:
  per-call Python glue, elementwise losses, optimizer bookkeeping).
* **What each method does with a configuration** is written beside the method, in a torch-free module
  that the registry names (:attr:`benchmark.registry.MethodEntry.cost`; the :class:`MethodCost` protocol):
  the work of one training iteration (and of a one-off setup, PEARL's initial pool) and the agent's share of
  one evaluation batch, read from the config's fields by name. The harness's share (how many iterations a
  budget buys, the evaluation protocol's N tasks x K episodes x horizon per split at every grid point) is
  counted here. This module never imports torch, agents/ or baselines/ (a test checks it).
* **Machine rates** (:class:`MachineRates`): per suite, the harness's env steps/s and the seconds of an
  episode reset; one core's dense layers, measured at a grid of (rows, width) shapes without gradient and
  with a training step, and fitted as a per-layer overhead plus a cost per activation element, per
  multiply-add (the GFLOP/s) and per parameter (:func:`benchmark.bench.fit_layer_seconds`), so that a tiny
  layer costs its overhead and a wide one its FLOPs; the seconds of an attention window and of an LSTM
  step; the seconds of one tiny framework call (``op_s``).

The counts of framework calls that the code's
structure does not give exactly (each method's ``*_OPS`` constants, and MAML's ``META_PASSES``) were set
once from short measured runs on a shared 2-core machine; they are in units of the measured ``op_s`` and
layer costs, so they follow the machine. ``make bench`` prints the estimate beside short measured runs
(its ``check`` section); a run's price is an estimate, not a promise (within ~25 % on that machine).

Who uses it: ``benchmark sweep --dry-run`` and ``make eta`` (the grid's table and hours), ``benchmark
sweep`` (a grid above :data:`CONFIRM_CPU_HOURS` needs ``--yes``), ``benchmark list`` (each profile's
estimate, :func:`describe_profile_cost`) and ``make bench`` (its ``check`` and ``cost`` sections).
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from benchmark.protocol import EvalSettings
from benchmark.registry import METHODS, check_method_name
from benchmark.suites import SUITES, check_suite_name

DEFAULT_JSON = Path(__file__).resolve().parents[1] / "results" / "bench" / "bench.json"
E2E_SUITE = "halfcheetah-vel"
"""the suite of ``make bench``'s end-to-end figures"""
CONFIRM_CPU_HOURS = 1000.0
"""a sweep estimated above this many CPU-hours starts only with ``--yes`` (``benchmark sweep``)"""

# ---- work ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteShape:
    """What the cost model knows of a suite, from its catalog entry (no simulator is built)."""

    name: str
    family: str
    obs_dim: int
    act_dim: int
    horizon: int
    episodes_per_trial: int
    splits: tuple[str, ...]

    @classmethod
    def of(cls, name: str) -> SuiteShape:
        entry = SUITES[check_suite_name(name)]
        return cls(
            name,
            entry.family,
            entry.obs_dim,
            entry.act_dim,
            entry.horizon,
            entry.episodes_per_trial,
            entry.splits,
        )

    @property
    def aug_dim(self) -> int:
        """The trial token ``[obs | previous action | previous reward | done]`` (:mod:`benchmark.trial`)."""
        return self.obs_dim + self.act_dim + 2


@dataclass(frozen=True)
class Dense:
    """``times`` applications of a stack of dense layers of ``widths`` (in, hidden..., out) to ``rows``
    rows each."""

    rows: float
    widths: tuple[int, ...]
    times: float = 1.0

    def flops(self) -> float:
        """Multiply-adds x 2 of one forward, all applications."""
        return self.times * sum(2.0 * self.rows * a * b for a, b in itertools.pairwise(self.widths))


@dataclass(frozen=True)
class Attention:
    """``times`` calls of scaled dot-product attention over ``windows`` (batch x heads) windows of ``length``
    keys, ``queries`` queries each, heads of width ``head_dim``."""

    windows: float
    length: int
    head_dim: int
    queries: int
    times: float = 1.0


@dataclass(frozen=True)
class Recurrent:
    """``times`` passes of an LSTM layer over ``sequences`` sequences of ``steps`` steps."""

    sequences: float
    steps: float
    input_dim: int
    hidden: int
    times: float = 1.0


Layer = Dense | Attention | Recurrent


@dataclass(frozen=True)
class Work:
    """What some part of a run does (see the module docstring). ``forward``: without gradient; ``train``:
    forward, backward and (for parameters) the optimizer step. Work adds up and scales."""

    env_steps: float = 0.0
    resets: float = 0.0
    forward: tuple[Layer, ...] = ()
    train: tuple[Layer, ...] = ()
    ops: float = 0.0

    def __add__(self, other: Work) -> Work:
        return Work(
            self.env_steps + other.env_steps,
            self.resets + other.resets,
            self.forward + other.forward,
            self.train + other.train,
            self.ops + other.ops,
        )

    def times(self, k: float) -> Work:
        """This work done ``k`` times."""
        return Work(
            self.env_steps * k,
            self.resets * k,
            tuple(dataclasses.replace(x, times=x.times * k) for x in self.forward),
            tuple(dataclasses.replace(x, times=x.times * k) for x in self.train),
            self.ops * k,
        )

    def flops(self) -> float:
        """Dense-layer FLOPs (forward; x3 for the trained layers: backward and gradient products)."""
        forward = sum(x.flops() for x in self.forward if isinstance(x, Dense))
        return forward + 3 * sum(x.flops() for x in self.train if isinstance(x, Dense))


def mlp(rows: float, widths: Sequence[int], times: float = 1.0) -> Dense:
    """One stack of dense layers; ``widths`` as (in, hidden..., out)."""
    return Dense(float(rows), tuple(int(w) for w in widths), float(times))


@dataclass(frozen=True)
class Training:
    """A method's meta-training, per the harness's iterations: ``iteration`` is one iteration (one
    ``yield`` of ``meta_train``; its ``env_steps`` are the steps it collects), ``setup`` what only the first
    iteration adds (PEARL's initial pool)."""

    iteration: Work
    setup: Work = field(default_factory=Work)


class MethodCost(Protocol):
    """The torch-free module beside a method that the registry names (``MethodEntry.cost``).

    ``default_config(suite, tier)`` returns the method's configuration (its provenance record's, no torch);
    ``training(config, suite)`` and ``evaluation(config, suite, trials, episodes, exploration)`` read a
    config's fields by name from the mapping (a resolved run's ``agent_config``). ``evaluation`` is the
    agent's share of one evaluation batch of ``trials`` trials (acting, adapting); the harness's share
    (simulator, resets) is counted by :func:`run_work`.
    """

    def default_config(self, suite: str, tier: str) -> Any: ...

    def training(self, config: Mapping[str, Any], suite: SuiteShape) -> Training: ...

    def evaluation(
        self, config: Mapping[str, Any], suite: SuiteShape, trials: int, episodes: int, exploration: int
    ) -> Work: ...


class HarnessOnly:
    """The price of a method whose registry entry names no cost module: the harness's share alone
    (one-episode trials, no agent compute), an underestimate; its config comes from the agent class."""

    def __init__(self, method: str) -> None:
        self.method = method

    def default_config(self, suite: str, tier: str) -> Any:
        from benchmark.registry import load_method

        return load_method(self.method).default_config(suite, tier)

    def training(self, config: Mapping[str, Any], suite: SuiteShape) -> Training:
        return Training(Work(env_steps=suite.horizon, resets=1))

    def evaluation(
        self, config: Mapping[str, Any], suite: SuiteShape, trials: int, episodes: int, exploration: int
    ) -> Work:
        return Work()


def method_cost(method: str) -> MethodCost:
    """The cost module the registry names for ``method`` (imported lazily; torch-free), or
    :class:`HarnessOnly` for an entry without one."""
    module = METHODS[check_method_name(method)].cost_module()
    if module is None:
        return HarnessOnly(method)
    loaded: Any = importlib.import_module(module)
    return loaded


# ---- a run ---------------------------------------------------------------------------------------------

EVAL_STEP_OPS = 40.0
"""harness calls per evaluation step of a batch (protocol bookkeeping, the transition it hands the agent)"""
EVAL_ROW_OPS = 4.0
"""harness calls per evaluation step and row (the trial wrapper's token, the episode records)"""


@dataclass(frozen=True)
class PricedRun:
    """What the model needs of a run: a :class:`~benchmark.request.RunSpec` has all of it."""

    method: str
    suite: str
    budget_env_steps: int
    eval_grid: tuple[int, ...]
    eval: EvalSettings
    agent_config: Mapping[str, Any]

    @classmethod
    def of(cls, run: Any) -> PricedRun:
        """From a :class:`~benchmark.request.RunSpec` (or anything with its fields)."""
        return cls(
            run.method,
            run.suite,
            int(run.budget_env_steps),
            tuple(run.eval_grid),
            run.eval,
            run.agent_config,
        )


@dataclass(frozen=True)
class RunWork:
    """A run's work in the harness's units: the training's setup and one iteration, one evaluation point
    (every split), and how many of each the budget and the grid make."""

    setup: Work
    iteration: Work
    evaluation: Work
    iterations: int
    evaluations: int

    @property
    def train_env_steps(self) -> float:
        return self.setup.env_steps + self.iterations * self.iteration.env_steps


def run_work(run: PricedRun) -> RunWork:
    """The work of ``run``: ceil(budget / an iteration's steps) iterations (the harness stops after the
    iteration that reaches the budget) after the setup, and the evaluations the grid makes."""
    shape = SuiteShape.of(run.suite)
    cost = method_cost(run.method)
    training = cost.training(run.agent_config, shape)
    per_iteration = max(training.iteration.env_steps, 1.0)
    iterations = max(1, math.ceil((run.budget_env_steps - training.setup.env_steps) / per_iteration))
    settings = run.eval
    n, k = settings.num_tasks, settings.episodes
    explore = settings.exploration_episodes or 0
    splits = [s for s in settings.splits if s in shape.splits]
    steps = k * shape.horizon
    harness = Work(env_steps=n * steps, resets=n * k, ops=steps * (EVAL_STEP_OPS + EVAL_ROW_OPS * n))
    batch = harness + cost.evaluation(run.agent_config, shape, n, k, explore)
    points = evaluation_points(run.eval_grid, training.setup.env_steps, per_iteration, iterations)
    return RunWork(training.setup, training.iteration, batch.times(len(splits)), iterations, points)


def evaluation_points(grid: Sequence[int], setup: float, per_iteration: float, iterations: int) -> int:
    """How many evaluations a run makes: the harness evaluates after the iteration that crosses a grid
    point, once for all the points one iteration crosses (and at 0 before training)."""
    ends = [setup + per_iteration * k for k in range(1, iterations + 1)]
    return len(
        {0 if p <= 0 else next((k for k, end in enumerate(ends, 1) if end >= p), iterations) for p in grid}
    )


# ---- machine rates -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MachineRates:
    """The rates of ``make bench``'s ``compute`` and ``suites`` sections (see :mod:`benchmark.bench`)."""

    compute: Mapping[str, Any]
    suites: Mapping[str, Mapping[str, float]]
    machine: Mapping[str, Any]
    source: str = ""

    @classmethod
    def load(cls, bench_json: Path = DEFAULT_JSON) -> MachineRates:
        """Read the figures; raises ValueError when they lack the ``compute`` section."""
        return cls.of(json.loads(Path(bench_json).read_text()), Path(bench_json).name)

    @classmethod
    def of(cls, figures: Mapping[str, Any], source: str = "") -> MachineRates:
        """From ``make bench``'s figures; raises ValueError without the ``compute`` section."""
        if "compute" not in figures:
            raise ValueError(f"{source or 'the bench figures'} lack the 'compute' section: run `make bench`")
        return cls(figures["compute"], figures.get("suites", {}), figures.get("machine", {}), source)

    # -- the simulator
    def suite_figure(self, suite: str, key: str, default: float) -> float:
        """A figure of ``suite``'s bench row; without one, the slowest measured suite of its family (else of
        any family) stands in, else ``default``."""
        if suite in self.suites and key in self.suites[suite]:
            return float(self.suites[suite][key])
        family = SUITES[suite].family
        same = [
            f[key] for s, f in self.suites.items() if key in f and s in SUITES and SUITES[s].family == family
        ]
        other = [f[key] for f in self.suites.values() if key in f]
        values = same or other
        if not values:
            return default
        return float(min(values) if key == "harness" else max(values))  # the slowest measured stands in

    def env_step_s(self, suite: str) -> float:
        """Seconds per env step of the harness's sampling path (simulator and trial wrapper)."""
        return 1.0 / self.suite_figure(suite, "harness", 10_000.0)

    def reset_s(self, suite: str) -> float:
        """Seconds per episode reset on a new task (Meta-World: ``set_task`` plus its reset)."""
        return self.suite_figure(suite, "reset_s", 1e-3)

    # -- compute
    def dense_s(self, layer: Dense, train: bool) -> float:
        """A stack of dense layers: per layer ``layer_s + element_s m n + mac_s m k n + param_s k n``, the
        coefficients ``make bench`` fitted to one core's measured layers (``compute.forward``/``train``)."""
        c = self.compute["train" if train else "forward"]
        m = layer.rows
        seconds = sum(
            c["layer_s"] + c["element_s"] * m * n + c["mac_s"] * m * k * n + c["param_s"] * k * n
            for k, n in itertools.pairwise(layer.widths)
        )
        return layer.times * seconds

    def attention_s(self, layer: Attention, train: bool) -> float:
        c = self.compute["attention"]
        kind = "train" if train else "forward"
        size = layer.queries * layer.length * layer.head_dim / (c["queries"] * c["length"] * c["head_dim"])
        return layer.times * (c[f"{kind}_call_s"] + layer.windows * size * c[f"{kind}_window_s"])

    def recurrent_s(self, layer: Recurrent, train: bool) -> float:
        """Per step: the LSTM loop's overhead and its gate product (``(in + hidden) -> 4 hidden`` on
        ``sequences`` rows, priced as a dense layer without the layer and parameter terms); the optimizer's
        share once per pass."""
        kind = "train" if train else "forward"
        c = self.compute[kind]
        m, k, n = layer.sequences, layer.input_dim + layer.hidden, 4 * layer.hidden
        step = self.compute["lstm"][f"{kind}_step_s"] + c["element_s"] * m * n + c["mac_s"] * m * k * n
        return layer.times * (layer.steps * step + c["param_s"] * k * n)

    def layer_s(self, layer: Layer, train: bool) -> float:
        if isinstance(layer, Dense):
            return self.dense_s(layer, train)
        if isinstance(layer, Attention):
            return self.attention_s(layer, train)
        return self.recurrent_s(layer, train)

    def seconds(self, work: Work, suite: str) -> dict[str, float]:
        """``work``'s seconds on one core: ``simulator`` (steps, resets), ``compute`` (layers), ``glue``."""
        return {
            "simulator": work.env_steps * self.env_step_s(suite) + work.resets * self.reset_s(suite),
            "compute": sum(self.layer_s(x, False) for x in work.forward)
            + sum(self.layer_s(x, True) for x in work.train),
            "glue": work.ops * float(self.compute["op_s"]),
        }


@dataclass(frozen=True)
class RunCost:
    """A run's estimated seconds on one core: the suite's build, the training's setup and one iteration,
    one evaluation point, and the run's totals."""

    run: PricedRun
    work: RunWork
    build_s: float
    setup_s: float
    iteration_s: float
    evaluation_s: float

    @property
    def train_s(self) -> float:
        return self.build_s + self.setup_s + self.work.iterations * self.iteration_s

    @property
    def eval_s(self) -> float:
        return self.work.evaluations * self.evaluation_s

    @property
    def seconds(self) -> float:
        return self.train_s + self.eval_s


def price(run: PricedRun | Any, rates: MachineRates) -> RunCost:
    """The estimated cost of one run (a :class:`PricedRun` or a ``RunSpec``)."""
    run = run if isinstance(run, PricedRun) else PricedRun.of(run)
    work = run_work(run)

    def seconds(w: Work) -> float:
        return sum(rates.seconds(w, run.suite).values())

    build = rates.suite_figure(run.suite, "build_s", 0.0)  # the suite, once per run
    return RunCost(run, work, build, seconds(work.setup), seconds(work.iteration), seconds(work.evaluation))


@dataclass(frozen=True)
class Estimate:
    """The priced runs of a grid, in the order a sweep starts them."""

    costs: tuple[RunCost, ...]
    rates: MachineRates

    @property
    def cpu_hours(self) -> float:
        return sum(c.seconds for c in self.costs) / 3600

    def wall_hours(self, workers: int) -> float:
        """Hours until the last run ends when ``workers`` runs go at once, each started as a worker frees
        (the local executor's order), each run at its one-core price (runs sharing a machine slow each other
        a little: ``make bench``'s ``seeds`` section measures by how much)."""
        free = [0.0] * max(1, workers)
        for cost in self.costs:
            first = free.index(min(free))
            free[first] += cost.seconds
        return max(free) / 3600

    def table(self) -> str:
        """CPU-hours per (method, suite), training and evaluation apart, the iterations per run, and the
        total."""
        rows: dict[tuple[str, str], list[float]] = {}
        for cost in self.costs:
            row = rows.setdefault((cost.run.method, cost.run.suite), [0, 0.0, 0.0, 0.0, 0.0])
            row[0] += 1
            row[1] += cost.work.train_env_steps
            row[2] += cost.work.iterations
            row[3] += cost.train_s / 3600
            row[4] += cost.eval_s / 3600
        # iterations per run: the updates a budget buys (one meta_train iteration is one PPO/TRPO
        # meta-update, or one PEARL iteration of num_train_steps_per_itr gradient steps), so that a
        # budget too small to learn in shows before the run
        lines = [
            f"{'method':12s} {'suite':16s} {'runs':>5s} {'env steps':>14s} {'iters/run':>10s} "
            f"{'train h':>9s} {'eval h':>8s}"
        ]
        for (method, suite), (runs, steps, iterations, train, evaluation) in sorted(rows.items()):
            lines.append(
                f"{method:12s} {suite:16s} {runs:5.0f} {steps:14,.0f} {iterations / runs:10,.0f} "
                f"{train:9,.3f} {evaluation:8,.3f}"
            )
        machine = self.rates.machine
        lines.append(
            f"total {format_hours(self.cpu_hours)} CPU-hours (1 core per run), priced from each run's "
            f"configuration with the rates in {self.rates.source} (measured on {machine.get('cpu', '?')}, "
            f"load {machine.get('loadavg_start', '?')})"
        )
        return "\n".join(lines)


def estimate(
    jobs: Iterable[Any], bench_json: Path = DEFAULT_JSON, rates: MachineRates | None = None
) -> Estimate:
    """Price ``jobs`` (``RunSpec``s or :class:`PricedRun`s) with ``rates`` (default: from ``bench_json``).

    Raises:
        ValueError: the bench figures lack the rates (a JSON from before the cost model).
        OSError: no bench figures.
    """
    rates = rates or MachineRates.load(bench_json)
    return Estimate(tuple(price(job, rates) for job in jobs), rates)


def estimate_cost(
    jobs: Iterable[Any], bench_json: Path = DEFAULT_JSON, rates: MachineRates | None = None
) -> tuple[float, str]:
    """CPU-hours of ``jobs`` and the printable table (:func:`estimate`)."""
    priced = estimate(jobs, bench_json, rates)
    return priced.cpu_hours, priced.table()


def format_hours(hours: float) -> str:
    """Hours as the model prints them everywhere (CLI, profiles, README): 3 significant figures."""
    if hours >= 100:
        return f"{round(hours, -int(math.floor(math.log10(hours))) + 2):,.0f}"
    return f"{hours:.3g}"


# ---- a profile, without torch --------------------------------------------------------------------------


def profile_runs(profile: str, seeds: int | None = None) -> list[PricedRun]:
    """The runs of ``profile``'s default grid in a sweep's order (:func:`benchmark.sweep.build_grid`), as a
    sweep resolves them, without importing any agent: each config from the method's cost module (its
    provenance record) with the variant's overrides applied. A test checks that they equal
    ``RunRequest(...).resolve()``'s specs."""
    from benchmark.config import apply_overrides, config_to_dict
    from benchmark.profiles import get_profile

    chosen = get_profile(profile)
    runs = []
    for suite in chosen.suites:
        for method in chosen.methods:
            budget = chosen.budget(suite, method)
            cost = method_cost(method)
            config = apply_overrides(
                cost.default_config(suite, chosen.tier_of(method)), list(METHODS[method].overrides)
            )
            explore = getattr(cost, "exploration_episodes", lambda s: 0)(suite)
            settings = dataclasses.replace(
                budget.eval,
                exploration_episodes=max(min(int(explore), budget.eval.episodes - 1), 0),
                action_mode=budget.eval.action_mode or SUITES[suite].eval_action_mode,
            )
            run = PricedRun(
                method, suite, budget.env_steps, budget.eval_grid(), settings, config_to_dict(config)
            )
            runs += [run] * (chosen.seeds_of(method) if seeds is None else seeds)
    return runs


def profile_estimate(profile: str, bench_json: Path = DEFAULT_JSON) -> Estimate | None:
    """``profile``'s grid priced (None when there are no bench figures with the rates)."""
    try:
        return estimate(profile_runs(profile), bench_json)
    except (OSError, ValueError):
        return None


def describe_cost(priced: Estimate, workers: int) -> str:
    """``~X CPU-hours, ~Y h with N runs at once``, as ``benchmark list``, ``make eta`` and the README say."""
    wall = priced.wall_hours(workers)
    span = f"{format_hours(wall)} h" if wall >= 2 else f"{max(wall * 60, 1):.0f} min"
    return f"~{format_hours(priced.cpu_hours)} CPU-hours, ~{span} with {workers} runs at once"


def describe_profile_cost(profile: str, workers: int = 2, bench_json: Path = DEFAULT_JSON) -> str:
    """:func:`describe_cost` of ``profile``'s grid (empty without bench figures)."""
    priced = profile_estimate(profile, bench_json)
    return "" if priced is None else describe_cost(priced, workers)
