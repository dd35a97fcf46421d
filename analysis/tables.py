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

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pandas as pd

from benchmark.results.schema import validate

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


def score_name(suite: str) -> str:
    """What a suite's score is, with its unit: ``"success rate (%)"`` or ``"return"``."""
    return "success rate (%)" if score_metric(suite) == "success" else "return"


def score_label(suite: str, split: str = "meta_test") -> str:
    """Axis label of a suite's score on ``split``: ``"meta-test return"``, ``"ood success rate (%)"``."""
    return f"{split.replace('_', '-')} {score_name(suite)}"


def prepare(df: pd.DataFrame, *, source: str = "results table") -> pd.DataFrame:
    """``df`` checked against the schema, with the canonical column order and dtypes.

    Raises:
        ResultsSchemaError: a one-line message naming the first problem.
    """
    return validate(df, source=source)


@dataclass(frozen=True)
class ScoreTable:
    """The results table reduced to what the figures use: the score metric of each suite, scaled.

    ``rows`` has one row per (run, split, env_steps, task, episode) with columns ``method, suite, run_id,
    seed, split, env_steps, task_id, episode, task_param, value`` (string columns categorical, ``episode``
    filled with 1 where missing, duplicate rows averaged). Build it once with :func:`score_table` and pass
    it to every figure: a paper-sized table has millions of rows.
    """

    rows: pd.DataFrame


Table: TypeAlias = pd.DataFrame | ScoreTable
"""What every figure accepts: a results table, or the :class:`ScoreTable` already reduced from one."""


def score_table(df: Table, *, validated: bool = False) -> ScoreTable:
    """Reduce a results table to a :class:`ScoreTable` (returned as is if it already is one).

    Args:
        df: a results table, or a :class:`ScoreTable`.
        validated: ``df`` comes from :func:`benchmark.results.schema.read_table` or ``validate`` (skips a
            second validation of a table of millions of rows).

    Raises:
        ResultsSchemaError: ``df`` does not follow the results schema.
    """
    if isinstance(df, ScoreTable):
        return df
    if not validated:
        df = prepare(df)
    # Categorical codes instead of strings: a paper-sized table has millions of rows.
    strings = {c: df[c].astype("category") for c in ("method", "suite", "run_id", "split", "metric")}
    suite, metric = strings["suite"].cat, strings["metric"].cat
    # Per suite category, the code of its score metric among the metric categories (-1: absent).
    wanted = np.array(
        [metric.categories.get_indexer([score_metric(str(s))])[0] for s in suite.categories] + [-2],
        dtype=np.int64,
    )
    suite_codes = suite.codes.to_numpy()
    mask = metric.codes.to_numpy() == wanted[suite_codes]
    scale = np.array([score_scale(str(s)) for s in suite.categories] + [1.0])
    episode = df["episode"].to_numpy(dtype=np.float64, na_value=np.nan)[mask]
    columns = {
        c: pd.Categorical.from_codes(strings[c].cat.codes.to_numpy()[mask], strings[c].cat.categories)
        for c in ("method", "suite", "run_id")
    }
    rows = pd.DataFrame(
        {
            **columns,
            "seed": df["seed"].to_numpy()[mask],
            "split": pd.Categorical.from_codes(
                strings["split"].cat.codes.to_numpy()[mask], strings["split"].cat.categories
            ),
            "env_steps": df["env_steps"].to_numpy()[mask],
            "task_id": df["task_id"].to_numpy(dtype=np.float64, na_value=np.nan)[mask],
            "episode": np.where(np.isnan(episode), 1.0, episode).astype(np.int64),
            "task_param": df["task_param"].to_numpy(dtype=np.float64, na_value=np.nan)[mask],
            "value": df["value"].to_numpy()[mask] * scale[suite_codes[mask]],
        }
    )
    keys = [*RUN_KEYS, "split", "env_steps", "task_id", "episode"]
    if rows.duplicated(keys).any():
        rows = rows.groupby(keys, dropna=False, sort=False, observed=True).agg(
            task_param=("task_param", "first"), value=("value", "mean")
        )
        rows = rows.reset_index()
    return ScoreTable(rows.reset_index(drop=True))


def task_episode_scores(df: Table, split: str = "meta_test") -> pd.DataFrame:
    """One row per (run, env_steps, task, episode) on ``split``: the suite's score metric, scaled.

    Columns: ``method, suite, run_id, seed, env_steps, task_id, episode, task_param, value``.
    """
    rows = score_table(df).rows
    return rows.loc[rows["split"] == split].drop(columns="split").reset_index(drop=True)


def last_episode(task_scores: pd.DataFrame) -> pd.DataFrame:
    """Keep each task's last episode of its trial (the score after adaptation)."""
    keys = [*RUN_KEYS, "env_steps", "task_id"]
    last = task_scores.groupby(keys, dropna=False, sort=False, observed=True)["episode"].transform("max")
    return task_scores.loc[task_scores["episode"] == last].reset_index(drop=True)


def evaluation_scores(df: Table, split: str = "meta_test") -> pd.DataFrame:
    """One row per (run, env_steps): the mean over tasks of the last-episode score.

    Columns: ``method, suite, run_id, seed, env_steps, score`` (string columns as plain strings).
    """
    last = last_episode(task_episode_scores(df, split))
    out = last.groupby([*RUN_KEYS, "env_steps"], sort=True, observed=True)["value"].mean()
    return plain(out.rename("score").reset_index())


def final_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows at each run's last ``env_steps`` grid point."""
    last = frame.groupby(RUN_KEYS, sort=False, observed=True)["env_steps"].transform("max")
    return frame.loc[frame["env_steps"] == last].reset_index(drop=True)


def final_scores(df: Table, split: str = "meta_test") -> pd.DataFrame:
    """Each run's final score: columns ``method, suite, run_id, seed, env_steps, score``."""
    return final_rows(evaluation_scores(df, split))


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns back to plain strings (small frames; simpler to filter and merge)."""
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(str)
    return frame


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
            {
                "suite": suite,
                "low": low,
                "low_from": low_from,
                "high": high,
                "high_from": high_from,
                "usable": usable,
            }
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
