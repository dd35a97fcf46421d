"""From the long results table to the numbers the figures plot.

What a "score" is (one definition for every figure and the report):

* the **score metric** of a suite is the one its catalog entry names (``benchmark.suites.SUITES[s]
  .score_metric``: success for Meta-World, return otherwise); a suite the catalog does not know is scored by
  its return;
* a **trial's score** in one evaluation is its value in the *last* episode of the trial (after the trial's
  exploration episodes; whether a method can carry anything across episodes depends on the method, see
  :data:`analysis.style.METHODS`); rows without an ``episode`` count as episode 1;
* an **evaluation's score** (one run at one ``env_steps`` grid point on one split) is the mean of its
  trials' scores; success rates are given in percent;
* a run's **final score** is its evaluation score at the suite's **common final point**: the last grid point
  every run of the suite has reached (:func:`common_points`). A run that stopped early is listed by
  :func:`incomplete_runs` and everyone is compared where it stopped; nothing is interpolated.

The table may or may not carry the columns ``trial`` (0-based index of the evaluation trial) and
``task_name`` (the Meta-World class); tables written before they existed get nulls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from benchmark.results.schema import validate, with_v2_columns
from benchmark.suites import SUITES

RUN_KEYS = ["method", "suite", "run_id", "seed"]
"""Columns that identify one run; ``run_id`` alone would do, the others travel along for grouping."""


def score_metric(suite: str) -> str:
    """The metric a suite is scored by, from the suite catalog (``return`` for a suite it does not know)."""
    entry = SUITES.get(suite)
    return entry.score_metric if entry is not None else "return"


def is_success(suite: str) -> bool:
    """Whether ``suite`` is scored by a success rate (plotted in percent on a fixed [0, 100] axis)."""
    return score_metric(suite) == "success"


def family(suite: str) -> str:
    """The suite's family in the catalog (``toy``, ``locomotion``, ``metaworld``) or ``unknown``."""
    entry = SUITES.get(suite)
    return entry.family if entry is not None else "unknown"


def score_scale(suite: str) -> float:
    """Factor from the stored metric to the plotted unit (success 0/1 -> percent)."""
    return 100.0 if is_success(suite) else 1.0


def score_name(suite: str) -> str:
    """What a suite's score is, with its unit: ``"success rate (%)"`` or ``"return"``."""
    return "success rate (%)" if is_success(suite) else "return"


def score_label(suite: str, split: str = "meta_test") -> str:
    """Axis label of a suite's score on ``split``: ``"meta-test return"``, ``"ood success rate (%)"``."""
    return f"{split.replace('_', '-')} {score_name(suite)}"


def prepare(df: pd.DataFrame, *, source: str = "results table", validated: bool = False) -> pd.DataFrame:
    """``df`` checked against the schema (older tables get the ``trial``/``task_name`` columns as nulls).

    Raises:
        ResultsSchemaError: a one-line message naming the first problem.
    """
    df = with_v2_columns(df)  # the schema's own migration of tables older than trial/task_name
    out = df if validated else validate(df, source=source)
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class ScoreTable:
    """The results table reduced to what the figures use: the score metric of each suite, scaled.

    ``rows`` has one row per (run, split, env_steps, trial, task, episode) with columns ``method, suite,
    run_id, seed, split, env_steps, trial, task_id, task_name, episode, task_param, value`` (string columns
    categorical, ``episode`` filled with 1 where missing, duplicate rows averaged). Build it once with
    :func:`score_table` and pass it to every figure: a paper-sized table has millions of rows.
    """

    rows: pd.DataFrame
    derived: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)
    """results computed from these rows once and shared by every figure and the report
    (:meth:`derive`)"""

    def derive(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()`` the first time ``key`` is asked for, the same object after (e.g. the aggregates'
        bootstrap, which the aggregate figures and the report both read)."""
        if key not in self.derived:
            self.derived[key] = compute()
        return self.derived[key]


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
    df = prepare(df, validated=validated)
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
        for c in ("method", "suite", "run_id", "split")
    }
    task_name = df["task_name"].astype("category")
    rows = pd.DataFrame(
        {
            **{c: columns[c] for c in ("method", "suite", "run_id")},
            "seed": df["seed"].to_numpy()[mask],
            "split": columns["split"],
            "env_steps": df["env_steps"].to_numpy()[mask],
            "trial": df["trial"].to_numpy(dtype=np.float64, na_value=np.nan)[mask],
            "task_id": df["task_id"].to_numpy(dtype=np.float64, na_value=np.nan)[mask],
            "task_name": pd.Categorical.from_codes(
                task_name.cat.codes.to_numpy()[mask], task_name.cat.categories
            ),
            "episode": np.where(np.isnan(episode), 1.0, episode).astype(np.int64),
            "task_param": df["task_param"].to_numpy(dtype=np.float64, na_value=np.nan)[mask],
            "value": df["value"].to_numpy()[mask] * scale[suite_codes[mask]],
        }
    )
    keys = [*RUN_KEYS, "split", "env_steps", "trial", "task_id", "episode"]
    if rows.duplicated(keys).any():
        rows = rows.groupby(keys, dropna=False, sort=False, observed=True).agg(
            task_name=("task_name", "first"), task_param=("task_param", "first"), value=("value", "mean")
        )
        rows = rows.reset_index()
    return ScoreTable(rows.reset_index(drop=True))


def task_episode_scores(df: Table, split: str = "meta_test") -> pd.DataFrame:
    """One row per (run, env_steps, trial, episode) on ``split``: the suite's score metric, scaled.

    Columns: ``method, suite, run_id, seed, env_steps, trial, task_id, task_name, episode, task_param,
    value``.
    """
    rows = score_table(df).rows
    return rows.loc[rows["split"] == split].drop(columns="split").reset_index(drop=True)


TRIAL_KEYS = [*RUN_KEYS, "env_steps", "trial", "task_id"]
"""Columns that identify one evaluation trial (``trial`` is null in older tables)."""


def last_episode(task_scores: pd.DataFrame) -> pd.DataFrame:
    """Keep each trial's last episode."""
    last = task_scores.groupby(TRIAL_KEYS, dropna=False, sort=False, observed=True)["episode"].transform(
        "max"
    )
    return task_scores.loc[task_scores["episode"] == last].reset_index(drop=True)


def evaluation_scores(df: Table, split: str = "meta_test") -> pd.DataFrame:
    """One row per (run, env_steps): the mean over trials of the last-episode score.

    Columns: ``method, suite, run_id, seed, env_steps, score, n_trials`` (string columns as plain strings).
    """
    last = last_episode(task_episode_scores(df, split))
    grouped = last.groupby([*RUN_KEYS, "env_steps"], sort=True, observed=True)["value"]
    out = pd.DataFrame({"score": grouped.mean(), "n_trials": grouped.size()}).reset_index()
    return plain(out)


# --------------------------------------------------------------------------------------------------------
# Where runs end: the common final point


def run_ends(df: Table) -> pd.DataFrame:
    """Each run's last evaluated ``env_steps`` (any split): ``method, suite, run_id, seed,
    last_env_steps``."""
    rows = score_table(df).rows
    ends = rows.groupby(RUN_KEYS, sort=True, observed=True)["env_steps"].max()
    return plain(ends.rename("last_env_steps").reset_index())


def common_points(df: Table) -> pd.DataFrame:
    """Per suite: ``suite, common_env_steps`` (the last point every run reached), ``max_env_steps``,
    ``n_runs``."""
    ends = run_ends(df)
    grouped = ends.groupby("suite", sort=True)["last_env_steps"]
    out = pd.DataFrame(
        {"common_env_steps": grouped.min(), "max_env_steps": grouped.max(), "n_runs": grouped.size()}
    )
    return out.reset_index()


def method_end_points(df: Table) -> pd.DataFrame:
    """Per suite and method: ``suite, method, end_env_steps``, the last point every run of the method
    reached (its own final point: a profile may give a method that samples slowly a smaller budget)."""
    ends = run_ends(df)
    grouped = ends.groupby(["suite", "method"], sort=True)["last_env_steps"].min()
    return grouped.rename("end_env_steps").reset_index()


def at_method_end(frame: pd.DataFrame, ends: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``frame`` (one per run and env_steps) at each run's latest grid point not after its
    method's own final point (:func:`method_end_points`)."""
    limits = ends.set_index(["suite", "method"])["end_env_steps"]
    keys = pd.MultiIndex.from_arrays([frame["suite"].astype(str), frame["method"].astype(str)])
    return _latest_not_after(frame, limits.reindex(keys).to_numpy())


def incomplete_runs(df: Table) -> pd.DataFrame:
    """Runs that end before the last grid point of their suite, and where they are compared.

    Columns: ``method, suite, run_id, seed, last_env_steps, suite_max_env_steps, compared_at``.
    """
    ends = run_ends(df).merge(common_points(df), on="suite")
    short = ends[ends["last_env_steps"] < ends["max_env_steps"]]
    out = short.rename(columns={"max_env_steps": "suite_max_env_steps", "common_env_steps": "compared_at"})
    columns = ["method", "suite", "run_id", "seed", "last_env_steps", "suite_max_env_steps", "compared_at"]
    return out[columns].reset_index(drop=True)


def at_common_point(frame: pd.DataFrame, common: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``frame`` (one per run and env_steps) at each run's latest grid point not after its suite's
    common final point."""
    limits = common.set_index("suite")["common_env_steps"]
    return _latest_not_after(frame, frame["suite"].astype(str).map(limits).to_numpy())


def _latest_not_after(frame: pd.DataFrame, limit: np.ndarray) -> pd.DataFrame:
    """Rows of ``frame`` at each run's latest ``env_steps`` not after its row's ``limit``."""
    frame = frame[frame["env_steps"].to_numpy() <= limit]
    last = frame.groupby(RUN_KEYS, sort=False, observed=True)["env_steps"].transform("max")
    return frame.loc[frame["env_steps"] == last].reset_index(drop=True)


def final_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows at each run's own last ``env_steps`` grid point (for per-run views such as traces)."""
    last = frame.groupby(RUN_KEYS, sort=False, observed=True)["env_steps"].transform("max")
    return frame.loc[frame["env_steps"] == last].reset_index(drop=True)


def final_scores(df: Table, split: str = "meta_test") -> pd.DataFrame:
    """Each run's score at its suite's common final point: ``method, suite, run_id, seed, env_steps,
    score, n_trials``."""
    table = score_table(df)
    return at_common_point(evaluation_scores(table, split), common_points(table))


def final_trials(df: Table, split: str = "meta_test") -> pd.DataFrame:
    """Each trial's last-episode score at its suite's common final point (one row per run and trial)."""
    table = score_table(df)
    trials = plain(last_episode(task_episode_scores(table, split)))
    return at_common_point(trials, common_points(table))


def degenerate_suites(final: pd.DataFrame) -> dict[str, float]:
    """Suites where every run of every method has the same final score (e.g. 0 % success everywhere):
    suite -> that score. Nothing can be ranked there; aggregates leave them out."""
    out = {}
    for suite, group in final.groupby("suite", sort=True):
        scores = group["score"].to_numpy(dtype=np.float64)
        if scores.size and np.ptp(scores) <= 1e-12 * max(1.0, float(np.abs(scores).max())):
            out[str(suite)] = float(scores[0])
    return out


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns back to plain strings (small frames; simpler to filter and merge)."""
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
            if column != "task_name":
                frame[column] = frame[column].astype(str)
    return frame


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


def paired_by_seed(final: pd.DataFrame, method: str, versus: str) -> pd.DataFrame:
    """Per suite and seed, ``method``'s final score minus ``versus``'s (seeds both ran; within a seed
    both faced the same tasks and reset states). Columns ``suite, seed, score, versus_score,
    difference``."""
    mine = final.loc[final["method"] == method, ["suite", "seed", "score"]]
    theirs = final.loc[final["method"] == versus, ["suite", "seed", "score"]]
    both = mine.merge(theirs, on=["suite", "seed"], suffixes=("", "_versus"))
    both = both.rename(columns={"score_versus": "versus_score"})
    both["difference"] = both["score"] - both["versus_score"]
    return both.sort_values(["suite", "seed"], kind="mergesort").reset_index(drop=True)
