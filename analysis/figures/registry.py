"""The figure registry: one entry per figure builder, its input, the files it writes and their captions.

Everything that lists figures reads this: the CLI (names, the builder and its input), the report (the order,
titles and captions of the files). Torch- and matplotlib-free, so ``python -m analysis --help`` stays fast;
builders are imported when drawn. Adding a figure: its module (``make(...)``) and one entry here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Output:
    """One file stem a builder writes (``.png``, ``.pdf``, ``.csv``), with its report title and caption."""

    file: str
    title: str
    caption: str


@dataclass(frozen=True)
class Figure:
    """A figure builder: ``name`` on the command line, ``builder`` as ``"module:function"``, what it reads
    (the score table, or the traces table beside it), and the outputs it writes, in report order."""

    name: str
    builder: str
    reads: Literal["scores", "traces"]
    outputs: tuple[Output, ...]

    def load(self) -> Callable[..., Any]:
        module_name, function_name = self.builder.split(":")
        return getattr(importlib.import_module(module_name), function_name)  # type: ignore[no-any-return]


FIGURES: tuple[Figure, ...] = (
    Figure(
        "sample_efficiency",
        "analysis.figures.sample_efficiency:make",
        "scores",
        (
            Output(
                "sample_efficiency",
                "Sample efficiency",
                (
                    "Meta-test score against environment steps: mean over runs, 95 % Student-t band over "
                    "runs (no band from one run); the random policy is the horizontal reference (the mean"
                    " of all its evaluations)."
                ),
            ),
            Output(
                "ood_sample_efficiency",
                "OOD sample efficiency",
                (
                    "Score on the ood tasks against training environment steps (the paper's OOD curve), "
                    "beside the meta-test curve of the same suite."
                ),
            ),
        ),
    ),
    Figure(
        "online_adaptation",
        "analysis.figures.online_adaptation:make",
        "traces",
        (
            Output(
                "online_adaptation",
                "Online adaptation",
                (
                    "Reward at every step of a meta-test trial at the final evaluation point, from the "
                    "traces table: mean over runs of the mean over trials, 95 % Student-t band over runs;"
                    " dotted lines mark episode starts."
                ),
            ),
        ),
    ),
    Figure(
        "fast_adaptation",
        "analysis.figures.fast_adaptation:make",
        "scores",
        (
            Output(
                "fast_adaptation",
                "Score per episode of a trial",
                (
                    "Meta-test score in each episode of a trial at the common final point. A rise over "
                    "the episodes is adaptation across episodes, possible only for methods that carry "
                    "memory from one episode to the next (see the table of methods above)."
                ),
            ),
        ),
    ),
    Figure(
        "ood",
        "analysis.figures.ood:make",
        "scores",
        (
            Output(
                "ood",
                "Out of distribution",
                (
                    "Final score minus the random policy's on the same task (same seed, split and goal) "
                    "against the task parameter, meta-test (open markers) and ood (filled) tasks as "
                    "separate lines; the meta-train range is shaded."
                ),
            ),
        ),
    ),
    Figure(
        "per_task",
        "analysis.figures.per_task:make",
        "scores",
        (
            Output(
                "per_task",
                "Per-task curves",
                (
                    "Score against the task parameter as training goes, for suites whose tasks have a "
                    "scalar parameter (one column per suite, one row per method): up to four evaluation "
                    "points per method, lighter = earlier, the final one with a 95 % Student-t band over "
                    "runs; parameters binned as in the OOD figure, meta-test and ood tasks as separate "
                    "lines, the meta-train range shaded, the random policy (mean of all its evaluations) "
                    "as the grey reference."
                ),
            ),
        ),
    ),
    Figure(
        "per_class",
        "analysis.figures.per_class:make",
        "scores",
        (
            Output(
                "per_class_success",
                "Success per task class",
                (
                    "ML10/ML45 success rate per task class at the common final point, pooled over runs; "
                    "each panel's title names the classes it shows (the held-out test classes, and which "
                    "training classes meta-train evaluated). The CSV adds Clopper-Pearson intervals on the "
                    "pooled trials (binomial: they ignore the spread between runs)."
                ),
            ),
        ),
    ),
    Figure(
        "paired",
        "analysis.figures.paired:make",
        "scores",
        (
            Output(
                "paired_differences",
                "Paired differences",
                (
                    "Each method's final score minus TrMRL's and minus random's, seed by seed (dots), "
                    "with the 95 % Student-t interval over paired seeds (bar)."
                ),
            ),
        ),
    ),
    Figure(
        "inference",
        "analysis.figures.auc:make",
        "scores",
        (
            Output(
                "auc",
                "Area under the meta-test curve",
                (
                    "Each run's meta-test score integrated over its suite's common evaluation grid and "
                    "divided by the grid's span (normalised 0 = random, 1 = upper reference where the "
                    "suite has references): dots = runs, bar = 95 % Student-t interval over runs. The "
                    "same builder writes gains_since_start.csv, gains_at_own_end.csv, "
                    "untrained_differences.csv, steps_to_threshold.csv and ranks.csv (report sections above)."
                ),
            ),
        ),
    ),
    Figure(
        "aggregates",
        "analysis.figures.aggregates:make",
        "scores",
        (
            Output(
                "aggregates",
                "Aggregate metrics",
                (
                    "Median, IQM, mean and optimality gap of normalised final scores (0 = random, 1 = the"
                    " fixed upper reference) over the aggregated suites, 95 % small-sample-corrected "
                    "stratified-bootstrap intervals (the optimality gap's clipped at 0, the least gap "
                    "there is)."
                ),
            ),
            Output(
                "probability_of_improvement",
                "Probability of improvement",
                (
                    "Fraction of paired (suite, seed) comparisons in which TrMRL beats the other method "
                    "(ties 1/2), with conservative Clopper-Pearson intervals (the comparisons come from "
                    "several suites, so the count is not one binomial draw)."
                ),
            ),
            Output(
                "performance_profiles",
                "Performance profiles",
                (
                    "Fraction of (run, suite) normalised final scores above each threshold (a step "
                    "function), with conservative Clopper-Pearson bands (runs of several suites, so the "
                    "count is not one binomial draw)."
                ),
            ),
        ),
    ),
)
"""Every figure, in report order."""

FIGURE_NAMES: tuple[str, ...] = tuple(figure.name for figure in FIGURES)


def outputs() -> tuple[Output, ...]:
    """Every file the figures write, in report order."""
    return tuple(output for figure in FIGURES for output in figure.outputs)


def figure(name: str) -> Figure:
    """The registry entry called ``name``; ``KeyError`` naming the known figures otherwise."""
    for entry in FIGURES:
        if entry.name == name:
            return entry
    raise KeyError(f"unknown figure {name!r}; known figures: {', '.join(FIGURE_NAMES)}")
