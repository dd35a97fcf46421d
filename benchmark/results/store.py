"""Per-run files and the merge into one table.

``results/runs/<run_id>/`` holds ``metrics.csv`` (append-only, fixed header, flushed after every evaluation
point, so a crash leaves a valid prefix), ``traces.csv`` (the reward of every evaluation step at the
recorded points; same rules), ``manifest.json`` and ``checkpoint.pt``. :func:`merge_runs` validates every
run's files and concatenates them into one results table and one traces table beside it, the only inputs
of ``analysis``.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.errors import ResultsSchemaError
from benchmark.results.schema import (
    COLUMNS,
    TRACE_COLUMNS,
    traces_path_for,
    validate,
    validate_traces,
    with_v2_columns,
    write_table,
    write_traces,
)

METRICS_FILE = "metrics.csv"
TRACES_FILE = "traces.csv"
PROGRESS_FILE = "progress.csv"
RESUME_FILE = "resume.pt"
MANIFEST_FILE = "manifest.json"
CHECKPOINT_FILE = "checkpoint.pt"


class MetricsWriter:
    """Appends validated rows to a run's ``metrics.csv``; the header is written once and never changes."""

    columns: dict[str, str] = COLUMNS

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            with path.open("w", newline="") as f:
                csv.writer(f).writerow(self.columns)

    def _validate(self, frame: pd.DataFrame) -> None:
        validate(frame, source=str(self.path))

    def append(self, rows: Iterable[dict[str, Any]]) -> int:
        frame = pd.DataFrame(list(rows), columns=list(self.columns))
        if frame.empty:
            return 0
        self._validate(frame)  # refuse to write what the reader would reject
        with self.path.open("a", newline="") as f:
            writer = csv.writer(f)
            for row in frame.itertuples(index=False):
                writer.writerow(["" if _is_missing(v) else v for v in row])
        return len(frame)


class TracesWriter(MetricsWriter):
    """Appends validated per-step rewards to a run's ``traces.csv``."""

    columns = TRACE_COLUMNS

    def _validate(self, frame: pd.DataFrame) -> None:
        validate_traces(frame, source=str(self.path))


class ProgressLog:
    """Appends one row of training statistics per agent iteration to ``progress.csv`` (issue #11).

    The columns are fixed by the first row (``env_steps``, ``wall_s``, ``env_steps_per_s`` and the
    agent's numeric ``last_stats``); TensorBoard event files are written beside it when tensorboard is
    installed (``tb/``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._fields: list[str] | None = None
        if path.exists():
            with path.open(newline="") as f:
                header = next(csv.reader(f), None)
            self._fields = header or None
        self._tensorboard = _tensorboard_writer(path.parent / "tb")

    def append(self, row: dict[str, Any]) -> None:
        if self._fields is None:
            self._fields = list(row)
            with self.path.open("w", newline="") as f:
                csv.writer(f).writerow(self._fields)
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, self._fields, extrasaction="ignore").writerow(row)
        self.rows += 1
        if self._tensorboard is not None:
            for key, value in row.items():
                if key != "env_steps" and isinstance(value, (int, float)):
                    self._tensorboard.add_scalar(f"train/{key}", value, int(row["env_steps"]))

    def close(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.flush()


def _tensorboard_writer(folder: Path) -> Any:
    try:
        import tensorboard  # noqa: F401  (SummaryWriter needs it; it is optional)
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(folder))


def truncate_rows(path: Path, rows: int) -> None:
    """Keep the header and the first ``rows`` data lines of a CSV file (atomically); no file, no-op."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        lines = f.readlines()
    kept = lines[: 1 + rows]
    if len(kept) == len(lines):
        return
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("".join(kept))
    tmp.replace(path)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def read_run_metrics(run_dir: Path) -> pd.DataFrame:
    path = run_dir / METRICS_FILE
    try:
        raw = pd.read_csv(path, dtype={"run_id": "string", "method": "string", "suite": "string"})
    except FileNotFoundError:
        raise ResultsSchemaError(f"{path}: missing metrics file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ResultsSchemaError(f"{path}: not a readable CSV ({exc})") from None
    return validate(with_v2_columns(raw), source=str(path))


def read_run_traces(run_dir: Path) -> pd.DataFrame | None:
    """A run's traces (validated), or ``None`` if it recorded none."""
    path = run_dir / TRACES_FILE
    if not path.exists():
        return None
    try:
        raw = pd.read_csv(path, dtype={"run_id": "string", "method": "string", "suite": "string"})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ResultsSchemaError(f"{path}: not a readable CSV ({exc})") from None
    return validate_traces(raw, source=str(path))


def read_manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsSchemaError(f"{path}: missing manifest") from None
    except json.JSONDecodeError as exc:
        raise ResultsSchemaError(f"{path}: corrupt manifest ({exc})") from None
    if not isinstance(manifest, dict) or "status" not in manifest:
        raise ResultsSchemaError(f"{path}: manifest has no 'status'")
    return manifest


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    path = run_dir / MANIFEST_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(path)


def run_dirs(runs_dir: Path) -> list[Path]:
    """Run folders under ``runs_dir`` (those with a manifest), sorted by name."""
    if not runs_dir.is_dir():
        raise ResultsSchemaError(f"{runs_dir}: no such runs folder")
    return sorted(p.parent for p in runs_dir.glob(f"*/{MANIFEST_FILE}"))


def merge_runs(runs_dir: Path, out: Path, include_incomplete: bool = False) -> tuple[Path, int, int]:
    """Merge the metrics of every completed run under ``runs_dir`` into the parquet table ``out``, and
    their traces into :func:`~benchmark.results.schema.traces_path_for` ``(out)``.

    Returns ``(out, runs merged, rows)``. Every file is validated before anything is written, so a corrupt
    run aborts the merge and leaves existing tables untouched.
    """
    frames, trace_frames, provenance = [], [], []
    for run_dir in run_dirs(runs_dir):
        manifest = read_manifest(run_dir)
        if not include_incomplete and manifest.get("status") != "completed":
            continue
        metrics = read_run_metrics(run_dir)
        check_against_manifest(run_dir, metrics, manifest)
        frames.append(metrics)
        traces = read_run_traces(run_dir)
        if traces is not None:
            trace_frames.append(traces)
        provenance.append(run_provenance(manifest))
    if not frames:
        raise ResultsSchemaError(f"{runs_dir}: no completed runs to merge; {out} left as it was")
    table = pd.concat(frames, ignore_index=True).drop_duplicates(ignore_index=True)
    _check_writable(out)
    write_table(table, out)
    if trace_frames:
        write_traces(pd.concat(trace_frames, ignore_index=True).drop_duplicates(), traces_path_for(out))
    runs = pd.DataFrame(provenance)
    write_runs_table(runs, runs_path_for(out))
    return out, len(frames), len(table)


def check_against_manifest(run_dir: Path, metrics: pd.DataFrame, manifest: dict[str, Any]) -> None:
    """A run's rows must be exactly what its manifest says its evaluations wrote (issue #11).

    A truncated, extended or edited metrics file (rows per evaluation point, grid points, run id) is named
    in a one-line error instead of being merged in silence.
    """
    path = run_dir / METRICS_FILE
    evaluations = manifest.get("evaluations", [])
    if metrics["run_id"].nunique() > 1 or (len(metrics) and metrics["run_id"].iloc[0] != manifest["run_id"]):
        raise ResultsSchemaError(f"{path}: rows of another run (run_id differs from the manifest's)")
    expected = {int(e["grid_env_steps"]): e.get("rows") for e in evaluations}
    counts = metrics.groupby("env_steps").size().to_dict()
    if set(counts) != set(expected):
        raise ResultsSchemaError(
            f"{path}: evaluation points {sorted(counts)} differ from the manifest's {sorted(expected)}"
        )
    for point, rows in expected.items():
        if rows is not None and counts[point] != int(rows):
            raise ResultsSchemaError(
                f"{path}: {counts[point]} rows at env_steps {point}, the manifest recorded {rows}"
            )


def run_provenance(manifest: dict[str, Any]) -> dict[str, Any]:
    """One row describing where and how a run was made (for flagging tables that mix them)."""
    spec = manifest.get("spec", {})
    git = manifest.get("git") or {}
    runtime = manifest.get("runtime") or {}
    return {
        "run_id": manifest.get("run_id"),
        "method": spec.get("method"),
        "suite": spec.get("suite"),
        "seed": spec.get("seed"),
        "profile": spec.get("profile"),
        "commit": git.get("commit"),
        "dirty": git.get("dirty"),
        "device": runtime.get("device", "cpu"),
        "threads": runtime.get("threads", manifest.get("torch_threads")),
        "host": manifest.get("host"),
        "torch": (manifest.get("packages") or {}).get("torch"),
        "env_steps": manifest.get("env_steps"),
        "wall_s": manifest.get("wall_s"),
        "train_env_steps_per_s": manifest.get("train_env_steps_per_s"),
    }


def mixed_provenance(runs: pd.DataFrame) -> list[str]:
    """What differs between runs that should not (code version, uncommitted changes, device, threads)."""
    notes = []
    for column, what in (("commit", "code versions"), ("device", "devices"), ("threads", "thread counts")):
        values = sorted({str(v) for v in runs[column].dropna()})
        if len(values) > 1:
            notes.append(f"mixes {what}: {', '.join(values)}")
    if runs["dirty"].fillna(False).astype(bool).any():
        notes.append("includes runs made with uncommitted changes")
    return notes


def runs_path_for(results_path: str | Path) -> Path:
    """The provenance table beside a results table: ``runs.parquet`` for ``results.parquet``."""
    path = Path(results_path)
    name = (
        path.name.replace("results", "runs") if "results" in path.name else f"{path.stem}.runs{path.suffix}"
    )
    return path.with_name(name)


def write_runs_table(runs: pd.DataFrame, path: Path) -> Path:
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        runs.astype({"dirty": "boolean", "seed": "Int64", "threads": "Int64"}).to_parquet(tmp, index=False)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _check_writable(out: Path) -> None:
    """Refuse an output path that cannot be written before anything is written (one line, exit 2)."""
    folder = out.parent
    if out.is_dir():
        raise ResultsSchemaError(f"{out}: is a folder, not a file path")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResultsSchemaError(f"{out}: cannot create its folder ({exc.strerror})") from None
    if not os.access(folder, os.W_OK):
        raise ResultsSchemaError(f"{out}: folder {folder} is not writable")
