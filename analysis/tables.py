"""From the long results table to the numbers the figures plot.

What a "score" is (one definition for every figure and the report):

* the **score metric** of a suite is the success rate for Meta-World suites (names starting with ``ml``)
  and the undiscounted return for every other suite;
* a **task's score** in one evaluation is its value in the *last* episode of the trial, i.e. after the
  agent has adapted over the trial's earlier episodes (the paper reports Meta-World success on the
  episodes after exploration); rows without an ``episode`` count as episode 1;
* an **evaluation's score** (one run at one ``env_steps`` grid point on one split) is the mean of its
  tasks' scores; success rates are given in percent;
* a run's **final score** is its evaluation score at the last ``env_steps`` grid point *of that run*
  (runs and methods may have different grids; nothing is interpolated).

Only :mod:`benchmark.results.schema` is imported from the harness (pandas and NumPy only: no simulator).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark.errors import ResultsSchemaError
from benchmark.results.schema import COLUMNS, validate

RUN_KEYS = ["method", "suite", "run_id", "seed"]
"""Columns that identify one run; ``run_id`` alone would do, the others travel along for grouping."""


def is_metaworld(suite: str) -> bool:
    """Meta-World suites are named ``ml1-*``, ``ml10``, ``ml45``."""
    return suite.startswith("ml")


def score_metric(suite: str) -> str:
    """The metric a suite is scored by: ``success`` for Meta-World, ``return`` otherwise."""
    return "success" if is_metaworld(suite) else "return"


def score_scale(suite: str) -> float:
    """Factor from the stored metric to the plotted unit (success 0/1 -> percent)."""
    return 100.0 if score_metric(suite) == "success" else 1.0


def score_label(suite: str, split: str = "meta_test") -> str:
    """Axis label of a suite's score, with its unit."""
    words = split.replace("_", "-")
    return f"{words} success rate (%)" if score_metric(suite) == "success" else f"{words} return"


def prepare(df: pd.DataFrame, *, source: str = "results table") -> pd.DataFrame:
    """Validate ``df`` against the schema (canonical dtypes) unless it already has them.

    Raises:
        ResultsSchemaError: a one-line message naming the first problem.
    """
    if list(df.columns) == list(COLUMNS) and all(str(df[c].dtype) == d for c, d in COLUMNS.items()):
        return df
    return validate(df, source=source)


def task_episode_scores(df: pd.DataFrame, split: str = "meta_test") -> pd.DataFrame:
    """One row per (run, env_steps, task, episode) on ``split``: the suite's score metric, scaled.

    Columns: ``method, suite, run_id, seed, env_steps, task_id, task_param, episode, value``.
    Several rows for the same key (which the schema allows) are averaged.
    """
    frames = []
    for suite in sorted(df["suite"].unique()):
        mask = (df["suite"] == suite) & (df["split"] == split) & (df["metric"] == score_metric(suite))
        part = df.loc[mask, [*RUN_KEYS, "env_steps", "task_id", "task_param", "episode", "value"]]
        if part.empty:
            continue
        part = part.assign(value=part["value"] * score_scale(suite), episode=part["episode"].fillna(1))
        frames.append(part)
    if not frames:
        return pd.DataFrame(
            {
                "method": pd.Series(dtype="string"),
                "suite": pd.Series(dtype="string"),
                "run_id": pd.Series(dtype="string"),
                "seed": pd.Series(dtype="int64"),
                "env_steps": pd.Series(dtype="int64"),
                "task_id": pd.Series(dtype="Int64"),
                "task_param": pd.Series(dtype="Float64"),
                "episode": pd.Series(dtype="Int64"),
                "value": pd.Series(dtype="float64"),
            }
        )
    rows = pd.concat(frames, ignore_index=True)
    keys = [*RUN_KEYS, "env_steps", "task_id", "episode"]
    out = rows.groupby(keys, dropna=False, sort=True, observed=True).agg(
        task_param=("task_param", "first"), value=("value", "mean")
    )
    return out.reset_index()


def last_episode(task_scores: pd.DataFrame) -> pd.DataFrame:
    """Keep each task's last episode of its trial (the score after adaptation)."""
    keys = [*RUN_KEYS, "env_steps", "task_id"]
    last = task_scores.groupby(keys, dropna=False, sort=False, observed=True)["episode"].transform("max")
    return task_scores.loc[task_scores["episode"] == last].reset_index(drop=True)


def evaluation_scores(df: pd.DataFrame, split: str = "meta_test") -> pd.DataFrame:
    """One row per (run, env_steps): the mean over tasks of the last-episode score.

    Columns: ``method, suite, run_id, seed, env_steps, score``.
    """
    last = last_episode(task_episode_scores(df, split))
    out = last.groupby([*RUN_KEYS, "env_steps"], sort=True, observed=True)["value"].mean()
    return out.rename("score").reset_index()


def final_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows at each run's last ``env_steps`` grid point."""
    last = frame.groupby(RUN_KEYS, sort=False, observed=True)["env_steps"].transform("max")
    return frame.loc[frame["env_steps"] == last].reset_index(drop=True)


def final_scores(df: pd.DataFrame, split: str = "meta_test") -> pd.DataFrame:
    """Each run's final score: columns ``method, suite, run_id, seed, env_steps, score``."""
    return final_rows(evaluation_scores(df, split))


# --------------------------------------------------------------------------------------------------------
# Normalisation across suites


def normalize(final: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Put every suite's final scores on one scale, so that suites can be aggregated.

    ``normalized = (score - low) / (high - low)`` per suite, where

    * Meta-World suites: ``low = 0 %`` and ``high = 100 %`` success (the success rate is already a
      normalised score);
    * other suites: ``low`` = the mean final score of the ``random`` method if the table has it, else the
      lowest mean final score of any method; ``high`` = the highest mean final score of any method.

    A suite whose ``high`` equals its ``low`` cannot be normalised and is left out (listed in the returned
    references with ``usable = False``).

    Returns:
        ``(scores, references)``: ``final`` with a ``normalized`` column (usable suites only), and one row
        per suite with ``suite, low, low_from, high, high_from, usable``.
    """
    refs = []
    for suite, group in final.groupby("suite", sort=True, observed=True):
        if is_metaworld(str(suite)):
            low, low_from, high, high_from = 0.0, "0 % success", 100.0, "100 % success"
        else:
            means = group.groupby("method", sort=True, observed=True)["score"].mean()
            if "random" in means.index:
                low, low_from = float(means["random"]), "random"
            else:
                low, low_from = float(means.min()), f"lowest method ({means.idxmin()})"
            high, high_from = float(means.max()), f"best method ({means.idxmax()})"
        usable = bool(high - low > 1e-12 * max(1.0, abs(high), abs(low)))
        refs.append(
            {"suite": suite, "low": low, "low_from": low_from, "high": high, "high_from": high_from,
             "usable": usable}
        )
    references = pd.DataFrame(refs, columns=["suite", "low", "low_from", "high", "high_from", "usable"])
    scores = final.merge(references[references["usable"]][["suite", "low", "high"]], on="suite", how="inner")
    scores["normalized"] = (scores["score"] - scores["low"]) / (scores["high"] - scores["low"])
    return scores.drop(columns=["low", "high"]), references


def common_suites(scores: pd.DataFrame, methods: list[str]) -> list[str]:
    """Suites on which every one of ``methods`` has at least one run (the set aggregates compare on)."""
    suites: set[str] | None = None
    for method in methods:
        have = set(scores.loc[scores["method"] == method, "suite"].astype(str))
        suites = have if suites is None else suites & have
    return sorted(suites or set())


def per_suite_arrays(scores: pd.DataFrame, method: str, suites: list[str], column: str) -> list[np.ndarray]:
    """One array of run scores per suite (in ``suites`` order) for ``method``: the stats module's layout."""
    mine = scores[scores["method"] == method]
    return [mine.loc[mine["suite"] == suite, column].to_numpy(dtype=np.float64) for suite in suites]


def require_rows(frame: pd.DataFrame, what: str) -> None:
    """Raise a one-line error when a table has nothing to plot."""
    if frame.empty:
        raise ResultsSchemaError(f"results table has no {what}")
