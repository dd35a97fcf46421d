"""The one results table every run writes and every figure reads.

Long (tidy) format, one row per measured value::

    run_id, method, suite, split, seed, env_steps, trial, task_id, task_name, episode, task_param,
    metric, value

* ``env_steps`` is the evaluation grid point (environment steps of meta-training) the row belongs to.
* ``trial`` is the 0-based index of the evaluation trial within its split at that point (N trials may repeat
  a task on two-task suites), ``task_id`` the task's index inside its split, ``task_name`` its class
  (Meta-World: ``drawer-open-v3``; null where a suite has no classes), ``episode`` the 1-based position of
  the episode inside its trial (1..K), ``task_param`` the task's scalar parameter; all nullable.
* ``metric`` comes from the closed list :data:`METRICS`.

Tables written before ``trial`` and ``task_name`` existed (the first schema) are read with both columns null.

A second table, the *traces* (:data:`TRACE_COLUMNS`), holds the reward of every evaluation step (the
paper's online-adaptation figure); it is validated the same way.

The schema is validated on write and on read, so a figure never silently plots a malformed table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.errors import ResultsSchemaError
from benchmark.files import atomic_write
from benchmark.suites.base import SPLITS  # the one list of split names

METRICS: tuple[str, ...] = ("return", "success", "episode_length")
"""Closed list of metric names: undiscounted episode return, success at any step (0/1), episode length."""

# Column name -> pandas dtype. Nullable integer/float dtypes for the optional columns.
COLUMNS: dict[str, str] = {
    "run_id": "string",
    "method": "string",
    "suite": "string",
    "split": "string",
    "seed": "int64",
    "env_steps": "int64",
    "trial": "Int64",
    "task_id": "Int64",
    "task_name": "string",
    "episode": "Int64",
    "task_param": "Float64",
    "metric": "string",
    "value": "float64",
}
NULLABLE: frozenset[str] = frozenset({"trial", "task_id", "task_name", "episode", "task_param"})
ADDED_IN_V2: tuple[str, ...] = ("trial", "task_name")
"""Columns older tables lack; :func:`read_table` and the run reader fill them with nulls."""

TRACE_COLUMNS: dict[str, str] = {
    "run_id": "string",
    "method": "string",
    "suite": "string",
    "split": "string",
    "seed": "int64",
    "env_steps": "int64",
    "trial": "int64",
    "task_id": "int64",
    "task_name": "string",
    "task_param": "Float64",
    "episode": "int64",
    "step": "int64",
    "reward": "float64",
}
TRACE_NULLABLE: frozenset[str] = frozenset({"task_name", "task_param"})
TRACE_SORT_KEY: list[str] = ["method", "suite", "seed", "run_id", "env_steps", "split", "trial", "step"]
SORT_KEY: list[str] = [
    "method",
    "suite",
    "seed",
    "run_id",
    "env_steps",
    "split",
    "trial",
    "task_id",
    "episode",
    "metric",
]


def empty_table() -> pd.DataFrame:
    """A zero-row table with the schema's columns and dtypes."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in COLUMNS.items()})


def with_v2_columns(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the columns added in the second schema (null) if it predates them; otherwise unchanged."""
    missing = [c for c in ADDED_IN_V2 if c not in df.columns]
    if not missing:
        return df
    df = df.copy()
    for name in missing:
        df[name] = pd.Series(pd.NA, index=df.index, dtype=COLUMNS[name])
    return df


def validate(df: pd.DataFrame, *, source: str = "results table") -> pd.DataFrame:
    """Check ``df`` against the schema and return a copy with the canonical column order and dtypes.

    Raises:
        ResultsSchemaError: a one-line message naming the first problem found and ``source``.
    """
    out = _typed(df, COLUMNS, NULLABLE, source)
    bad_split = sorted(set(out["split"].unique()) - set(SPLITS))
    if bad_split:
        raise ResultsSchemaError(f"{source}: unknown split(s) {bad_split}; allowed {list(SPLITS)}")
    bad_metric = sorted(set(out["metric"].unique()) - set(METRICS))
    if bad_metric:
        raise ResultsSchemaError(f"{source}: unknown metric(s) {bad_metric}; allowed {list(METRICS)}")
    for name in ("seed", "env_steps", "trial", "task_id"):
        if (out[name].dropna() < 0).any():
            raise ResultsSchemaError(f"{source}: column {name!r} has negative values")
    if (out["episode"].dropna() < 1).any():
        raise ResultsSchemaError(f"{source}: column 'episode' is 1-based and has values < 1")
    if not np.isfinite(out["value"].to_numpy(dtype="float64")).all():
        raise ResultsSchemaError(f"{source}: column 'value' has NaN or infinite values")
    return out


def validate_traces(df: pd.DataFrame, *, source: str = "traces table") -> pd.DataFrame:
    """Check a traces table (:data:`TRACE_COLUMNS`) and return it typed and in canonical column order."""
    out = _typed(df, TRACE_COLUMNS, TRACE_NULLABLE, source)
    bad_split = sorted(set(out["split"].unique()) - set(SPLITS))
    if bad_split:
        raise ResultsSchemaError(f"{source}: unknown split(s) {bad_split}; allowed {list(SPLITS)}")
    for name in ("seed", "env_steps", "trial", "task_id", "step"):
        if (out[name] < 0).any():
            raise ResultsSchemaError(f"{source}: column {name!r} has negative values")
    if (out["episode"] < 1).any():
        raise ResultsSchemaError(f"{source}: column 'episode' is 1-based and has values < 1")
    if not np.isfinite(out["reward"].to_numpy(dtype="float64")).all():
        raise ResultsSchemaError(f"{source}: column 'reward' has NaN or infinite values")
    return out


def _typed(df: pd.DataFrame, columns: dict[str, str], nullable: frozenset[str], source: str) -> pd.DataFrame:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ResultsSchemaError(f"{source}: missing column(s) {missing}; expected columns {list(columns)}")
    extra = [c for c in df.columns if c not in columns]
    if extra:
        raise ResultsSchemaError(f"{source}: unexpected column(s) {extra}; expected columns {list(columns)}")
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    for name, dtype in columns.items():
        column = df[name].reset_index(drop=True)
        if name not in nullable and column.isna().any():
            raise ResultsSchemaError(
                f"{source}: column {name!r} has missing values (only {sorted(nullable)} may)"
            )
        try:
            if dtype in ("int64", "Int64"):
                numeric = pd.to_numeric(column, errors="raise")
                if not np.all(np.isnan(numeric.astype("float64"))) and not _all_integral(numeric):
                    raise ValueError("non-integer values")
                out[name] = numeric.astype(dtype)
            elif dtype in ("float64", "Float64"):
                out[name] = pd.to_numeric(column, errors="raise").astype(dtype)
            else:
                out[name] = column.astype(dtype)
        except (ValueError, TypeError) as exc:
            raise ResultsSchemaError(f"{source}: column {name!r} cannot be read as {dtype} ({exc})") from None
    return out


def _all_integral(values: pd.Series) -> bool:
    as_float = values.dropna().astype("float64").to_numpy()
    return bool(np.all(np.equal(np.mod(as_float, 1.0), 0.0)))


def sort_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Canonical row order, so that the same results always serialise to the same bytes."""
    return df.sort_values(SORT_KEY, kind="mergesort", na_position="first").reset_index(drop=True)


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Validate, sort and write ``df`` as parquet (atomically: a crash never leaves half a table)."""
    path = Path(path)
    return _write_parquet(prepare_table(df, path), path)


def write_traces(df: pd.DataFrame, path: str | Path) -> Path:
    """Validate, sort and write a traces table as parquet, atomically."""
    path = Path(path)
    return _write_parquet(prepare_traces(df, path), path)


def prepare_table(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """``df`` validated and in canonical row order, as :func:`write_table` writes it to ``path``."""
    return sort_rows(validate(df, source=str(path)))


def prepare_traces(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """A traces table validated and in canonical row order, as :func:`write_traces` writes it."""
    table = validate_traces(df, source=str(path))
    return table.sort_values(TRACE_SORT_KEY, kind="mergesort").reset_index(drop=True)


def _write_parquet(table: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda temporary: table.to_parquet(temporary, index=False))


def traces_path_for(results_path: str | Path) -> Path:
    """The traces table of a results table: ``<stem>.traces<suffix>`` beside it (:func:`side_table`)."""
    return side_table(results_path, "traces")


def runs_path_for(results_path: str | Path) -> Path:
    """The run provenance table of a results table: ``<stem>.runs<suffix>`` beside it (:func:`side_table`)."""
    return side_table(results_path, "runs")


def side_table(results_path: str | Path, kind: str) -> Path:
    """The one rule naming a results table's side tables, which ``benchmark results`` writes and the
    analysis reads: ``X.parquet`` -> ``X.traces.parquet`` and ``X.runs.parquet``, in the same folder."""
    if kind not in ("traces", "runs"):
        raise ValueError(f"a results table has traces and runs side tables, not {kind!r}")
    path = Path(results_path)
    return path.with_name(f"{path.stem}.{kind}{path.suffix}")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read and validate a merged results table (parquet, or CSV with the same columns)."""
    path = Path(path)
    return validate(with_v2_columns(_read_frame(path, "results")), source=str(path))


def read_traces(path: str | Path) -> pd.DataFrame:
    """Read and validate a merged traces table (parquet or CSV)."""
    path = Path(path)
    return validate_traces(_read_frame(path, "traces"), source=str(path))


def _read_frame(path: Path, what: str) -> pd.DataFrame:
    """A parquet or CSV file as a frame; a missing or corrupt file is a one-line error naming ``what``."""
    if not path.exists():
        raise ResultsSchemaError(f"{path}: no such {what} file")
    try:
        return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    except Exception as exc:  # pyarrow/pandas raise many types for a corrupt file
        raise ResultsSchemaError(
            f"{path}: not a readable {what} file ({type(exc).__name__}: {exc})"
        ) from None
