"""The one results table every run writes and every figure reads (DESIGN.md, "Results schema").

Long (tidy) format, one row per measured value::

    run_id, method, suite, split, seed, env_steps, task_id, episode, task_param, metric, value

* ``env_steps`` is the evaluation grid point (environment steps of meta-training) the row belongs to.
* ``task_id`` is the task's index inside its split, ``episode`` the 1-based position of the episode inside
  its trial (1..K), ``task_param`` the task's scalar parameter; all three are nullable.
* ``metric`` comes from the closed list :data:`METRICS`.

The schema is validated on write and on read, so a figure never silently plots a malformed table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.errors import ResultsSchemaError

SPLITS: tuple[str, ...] = ("meta_train", "meta_test", "ood")

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
    "task_id": "Int64",
    "episode": "Int64",
    "task_param": "Float64",
    "metric": "string",
    "value": "float64",
}
NULLABLE: frozenset[str] = frozenset({"task_id", "episode", "task_param"})
SORT_KEY: list[str] = [
    "method",
    "suite",
    "seed",
    "run_id",
    "env_steps",
    "split",
    "task_id",
    "episode",
    "metric",
]


def empty_table() -> pd.DataFrame:
    """A zero-row table with the schema's columns and dtypes."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in COLUMNS.items()})


def validate(df: pd.DataFrame, *, source: str = "results table") -> pd.DataFrame:
    """Check ``df`` against the schema and return a copy with the canonical column order and dtypes.

    Raises:
        ResultsSchemaError: a one-line message naming the first problem found and ``source``.
    """
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ResultsSchemaError(f"{source}: missing column(s) {missing}; expected columns {list(COLUMNS)}")
    extra = [c for c in df.columns if c not in COLUMNS]
    if extra:
        raise ResultsSchemaError(f"{source}: unexpected column(s) {extra}; expected columns {list(COLUMNS)}")
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    for name, dtype in COLUMNS.items():
        column = df[name].reset_index(drop=True)
        if name not in NULLABLE and column.isna().any():
            raise ResultsSchemaError(
                f"{source}: column {name!r} has missing values (only {sorted(NULLABLE)} may)"
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
    bad_split = sorted(set(out["split"].unique()) - set(SPLITS))
    if bad_split:
        raise ResultsSchemaError(f"{source}: unknown split(s) {bad_split}; allowed {list(SPLITS)}")
    bad_metric = sorted(set(out["metric"].unique()) - set(METRICS))
    if bad_metric:
        raise ResultsSchemaError(f"{source}: unknown metric(s) {bad_metric}; allowed {list(METRICS)}")
    for name in ("seed", "env_steps", "task_id"):
        if (out[name].dropna() < 0).any():
            raise ResultsSchemaError(f"{source}: column {name!r} has negative values")
    if (out["episode"].dropna() < 1).any():
        raise ResultsSchemaError(f"{source}: column 'episode' is 1-based and has values < 1")
    if not np.isfinite(out["value"].to_numpy(dtype="float64")).all():
        raise ResultsSchemaError(f"{source}: column 'value' has NaN or infinite values")
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
    table = sort_rows(validate(df, source=str(path)))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    table.to_parquet(tmp, index=False)
    tmp.replace(path)
    return path


def read_table(path: str | Path) -> pd.DataFrame:
    """Read and validate a merged results table (parquet, or CSV with the same columns)."""
    path = Path(path)
    if not path.exists():
        raise ResultsSchemaError(f"{path}: no such results file")
    try:
        raw = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    except Exception as exc:  # pyarrow/pandas raise many types for a corrupt file
        raise ResultsSchemaError(
            f"{path}: not a readable results file ({type(exc).__name__}: {exc})"
        ) from None
    return validate(raw, source=str(path))
