"""Per-run files and the merge into one table.

``results/runs/<run_id>/`` holds ``metrics.csv`` (append-only, fixed header, flushed after every evaluation
point, so a crash leaves a valid prefix), ``traces.csv`` (the reward of every evaluation step at the
recorded points; same rules), ``manifest.json`` and ``checkpoint.pt``. :func:`merge_runs` validates every
run's files and concatenates them into one results table and one traces table beside it, the only inputs
of ``analysis``.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.errors import ResultsSchemaError
from benchmark.files import (
    AppendOnlyFile,
    Digest,
    atomic_write_bytes,
    atomic_write_set,
    holds_prefix,
)
from benchmark.results.schema import (
    COLUMNS,
    TRACE_COLUMNS,
    prepare_table,
    prepare_traces,
    read_table,
    read_traces,
    runs_path_for,
    traces_path_for,
    validate,
    validate_traces,
    with_v2_columns,
)

METRICS_FILE = "metrics.csv"
TRACES_FILE = "traces.csv"
PROGRESS_FILE = "progress.csv"
RESUME_FILE = "resume.pt"
MANIFEST_FILE = "manifest.json"
CHECKPOINT_FILE = "checkpoint.pt"


class MetricsWriter:
    """Appends validated rows to a run's ``metrics.csv``; the header is written once and never changes.

    :attr:`digest` is the size and SHA-256 of everything the file holds, which the run records after each
    evaluation so that a resume and a merge can check the rows by content.
    """

    columns: dict[str, str] = COLUMNS

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = AppendOnlyFile(path)
        if self.file.size == 0:
            self.file.append(_csv_bytes([list(self.columns)]))

    @property
    def digest(self) -> Digest:
        return self.file.digest

    def _validate(self, frame: pd.DataFrame) -> None:
        validate(frame, source=str(self.path))

    def append(self, rows: Iterable[dict[str, Any]]) -> int:
        frame = pd.DataFrame(list(rows), columns=list(self.columns))
        if frame.empty:
            return 0
        self._validate(frame)  # refuse to write what the reader would reject
        lines = [["" if _is_missing(v) else v for v in row] for row in frame.itertuples(index=False)]
        self.file.append(_csv_bytes(lines))
        return len(frame)


class TracesWriter(MetricsWriter):
    """Appends validated per-step rewards to a run's ``traces.csv``."""

    columns = TRACE_COLUMNS

    def _validate(self, frame: pd.DataFrame) -> None:
        validate_traces(frame, source=str(self.path))


PROGRESS_COLUMNS = ("env_steps", "wall_s", "stat", "value")
"""``progress.csv`` is tidy: one row per statistic per agent iteration, so a statistic that first appears
later (or only sometimes) is kept like any other"""


class ProgressLog:
    """Appends the training statistics of every agent iteration to ``progress.csv`` (tidy, see
    :data:`PROGRESS_COLUMNS`): the harness's ``env_steps_per_s`` and every numeric entry of the agent's
    ``last_stats``. With tensorboard installed (``pip install -e '.[tracking]'``) the same numbers, and the
    evaluation scores (:meth:`log_evaluation`), are written as TensorBoard events to ``tb/`` beside it.
    :attr:`digest` is recorded at each resume point, as for the metrics.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self.file = AppendOnlyFile(path)
        if self.file.size == 0:
            self.file.append(_csv_bytes([list(PROGRESS_COLUMNS)]))
        self._tensorboard = _tensorboard_writer(path.parent / "tb")

    @property
    def digest(self) -> Digest:
        return self.file.digest

    def append(self, env_steps: int, wall_s: float, stats: Mapping[str, Any]) -> None:
        """One iteration's statistics (non-numeric values are left out)."""
        numbers = {
            name: float(value)
            for name, value in stats.items()
            if isinstance(value, (int, float, np.integer, np.floating)) and value is not None
        }
        lines = [[env_steps, wall_s, name, value] for name, value in numbers.items()]
        if lines:
            self.file.append(_csv_bytes(lines))
        self.rows += 1
        if self._tensorboard is not None:
            for name, value in numbers.items():
                self._tensorboard.add_scalar(f"train/{name}", value, env_steps)

    def log_evaluation(self, env_steps: int, scores: Mapping[str, float]) -> None:
        """Evaluation scores (``split/metric`` -> value) beside the training statistics in TensorBoard;
        ``metrics.csv`` holds every episode of them already."""
        if self._tensorboard is not None:
            for name, value in scores.items():
                self._tensorboard.add_scalar(f"eval/{name}", value, env_steps)

    def close(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.flush()


def read_progress(run_dir: Path) -> pd.DataFrame:
    """A run's training statistics, one column per statistic and one row per iteration (NaN where an
    iteration did not report a statistic)."""
    tidy = pd.read_csv(run_dir / PROGRESS_FILE)
    return tidy.pivot_table(
        index=["env_steps", "wall_s"], columns="stat", values="value", sort=False
    ).reset_index()


def _csv_bytes(rows: list[list[Any]]) -> bytes:
    """Rows as the csv module writes them (``\\r\\n`` line ends), encoded."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def _tensorboard_writer(folder: Path) -> Any:
    try:
        import tensorboard  # noqa: F401  (SummaryWriter needs it; it is optional)
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(folder))


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
    """Replace the run's manifest atomically (a reader never sees half of one)."""
    text = json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n"
    atomic_write_bytes(run_dir / MANIFEST_FILE, text.encode())


def run_dirs(runs_dir: Path) -> list[Path]:
    """Run folders under ``runs_dir`` (those with a manifest), sorted by name."""
    if not runs_dir.is_dir():
        raise ResultsSchemaError(f"{runs_dir}: no such runs folder")
    return sorted(p.parent for p in runs_dir.glob(f"*/{MANIFEST_FILE}"))


def merge_runs(
    runs_dir: Path,
    out: Path,
    include_incomplete: bool = False,
    profile: str | None = None,
    all_profiles: bool = False,
) -> tuple[Path, int, int]:
    """Merge the metrics of every completed run under ``runs_dir`` into the parquet table ``out``, and
    their traces and provenance into the tables beside it (:func:`~benchmark.results.schema.traces_path_for`,
    :func:`runs_path_for`).

    Returns ``(out, runs merged, rows)``. Every run's files are checked against what its manifest recorded
    (rows and, for runs that recorded them, size and SHA-256) before anything is written, so a damaged run
    aborts the merge and leaves existing tables untouched. The three tables are published together under a
    lock on ``out``: two merges onto one output never leave tables of both.

    Runs of different profiles (budgets, evaluation sizes) do not belong in one table, and the same seed
    would count twice: ``profile`` merges only that profile's runs; without it, a folder holding runs of
    several profiles is refused unless ``all_profiles``.
    """
    selected = []
    for run_dir in run_dirs(runs_dir):
        manifest = read_manifest(run_dir)
        if not include_incomplete and manifest.get("status") != "completed":
            continue
        run_profile = (manifest.get("spec") or {}).get("profile")
        if profile is not None and run_profile != profile:
            continue
        selected.append((run_dir, manifest, run_profile))
    profiles = sorted({str(p) for _, _, p in selected})
    if len(profiles) > 1 and not all_profiles:
        raise ResultsSchemaError(
            f"{runs_dir} holds runs of the profiles {', '.join(profiles)}: merge one with --profile "
            "(or all with --all-profiles, which counts their seeds together)"
        )
    frames, trace_frames, provenance = [], [], []
    for run_dir, manifest, _ in selected:
        check_files_against_manifest(run_dir, manifest)
        metrics = read_run_metrics(run_dir)
        check_against_manifest(run_dir, metrics, manifest)
        frames.append(metrics)
        traces = read_run_traces(run_dir)
        check_traces_against_manifest(run_dir, traces, manifest)
        if traces is not None:
            trace_frames.append(traces)
        provenance.append(run_provenance(manifest))
    if not frames:
        which = f" of profile {profile}" if profile is not None else ""
        raise ResultsSchemaError(f"{runs_dir}: no completed runs{which} to merge; {out} left as it was")
    table = pd.concat(frames, ignore_index=True).drop_duplicates(ignore_index=True)
    traces_table = pd.concat(trace_frames, ignore_index=True).drop_duplicates() if trace_frames else None
    publish_tables(out, table, traces_table, pd.DataFrame(provenance))
    return out, len(frames), len(table)


def publish_tables(out: Path, table: pd.DataFrame, traces: pd.DataFrame | None, runs: pd.DataFrame) -> None:
    """Write a results table and its side tables (:func:`~benchmark.results.schema.side_table`) as one set:
    validated, all written to temporary files first, renamed under a lock on ``out``; a traces table
    left by an earlier merge is removed when this set has none."""
    _check_writable(out)
    tables = {out: prepare_table(table, out), runs_path_for(out): _typed_runs(runs)}
    traces_out = traces_path_for(out)
    if traces is not None:
        tables[traces_out] = prepare_traces(traces, traces_out)
    with _publishing(out):
        atomic_write_set({path: _parquet_writer(frame) for path, frame in tables.items()})
        if traces is None:
            traces_out.unlink(missing_ok=True)


def combine_tables(inputs: list[Path], out: Path) -> tuple[Path, int, int]:
    """One table from several merged tables (yours beside the committed reference tables, say), with
    their traces and run provenance; returns ``(out, runs, rows)``.

    Every input is validated; a run id in two inputs is refused (the same run counted twice), as are
    inputs that are the output itself.
    """
    if not inputs:
        raise ResultsSchemaError("combine needs at least one results table")
    if any(Path(p).resolve() == Path(out).resolve() for p in inputs):
        raise ResultsSchemaError(f"{out}: the output cannot be one of the inputs")
    frames, trace_frames, runs_frames = [], [], []
    seen: dict[str, Path] = {}
    for path in map(Path, inputs):
        table = read_table(path)
        for run_id in table["run_id"].astype(str).unique():
            if run_id in seen:
                raise ResultsSchemaError(f"run {run_id} is in both {seen[run_id]} and {path}")
            seen[run_id] = path
        frames.append(table)
        if traces_path_for(path).exists():
            trace_frames.append(read_traces(traces_path_for(path)))
        if runs_path_for(path).exists():
            runs_frames.append(_read_runs_table(runs_path_for(path)))
    table = pd.concat(frames, ignore_index=True)
    traces = pd.concat(trace_frames, ignore_index=True) if trace_frames else None
    runs = pd.concat(runs_frames, ignore_index=True) if runs_frames else pd.DataFrame(columns=RUN_COLUMNS)
    publish_tables(Path(out), table, traces, runs)
    return Path(out), len(seen), len(table)


def _read_runs_table(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for a corrupt file
        raise ResultsSchemaError(f"{path}: not a readable runs table ({type(exc).__name__})") from None


def _parquet_writer(frame: pd.DataFrame) -> Callable[[Path], None]:
    return lambda temporary: frame.to_parquet(temporary, index=False)


@contextlib.contextmanager
def _publishing(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``out``'s lock file (beside it) while its tables are replaced."""
    lock = out.with_name(f".{out.name}.lock")
    with open(lock, "a") as file:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(file.fileno(), fcntl.LOCK_UN)


def check_files_against_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    """A completed run's metrics and traces files hold exactly the bytes its last evaluation recorded.

    Runs made before the harness recorded digests carry none; their rows are still checked by count
    (:func:`check_against_manifest`, :func:`check_traces_against_manifest`).
    """
    evaluations = manifest.get("evaluations") or []
    if not evaluations:
        return
    last = evaluations[-1]
    for name, key in ((METRICS_FILE, "metrics"), (TRACES_FILE, "traces")):
        recorded = last.get(key)
        if recorded is None:
            continue
        try:
            digest = Digest.from_json(recorded)
        except ValueError as exc:
            raise ResultsSchemaError(f"{run_dir / MANIFEST_FILE}: bad {key} digest ({exc})") from None
        path = run_dir / name
        size = path.stat().st_size if path.exists() else None
        if size != digest.size or not holds_prefix(path, digest):
            found = "missing" if size is None else f"{size} bytes"
            raise ResultsSchemaError(
                f"{path}: differs from what the run wrote ({found}; the manifest recorded {digest.size} "
                "bytes and their SHA-256): cut, edited or replaced"
            )


def check_against_manifest(run_dir: Path, metrics: pd.DataFrame, manifest: dict[str, Any]) -> None:
    """A run's rows must be exactly what its manifest says its evaluations wrote.

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


def check_traces_against_manifest(
    run_dir: Path, traces: pd.DataFrame | None, manifest: dict[str, Any]
) -> None:
    """A run's traces rows per evaluation point are exactly what its manifest says were written."""
    path = run_dir / TRACES_FILE
    expected = {
        int(e["grid_env_steps"]): int(e.get("trace_rows") or 0) for e in manifest.get("evaluations", [])
    }
    expected = {point: rows for point, rows in expected.items() if rows}
    if traces is None:
        if expected:
            raise ResultsSchemaError(f"{path}: missing; the manifest recorded {sum(expected.values())} rows")
        return
    if len(traces) and (traces["run_id"] != manifest["run_id"]).any():
        raise ResultsSchemaError(f"{path}: rows of another run (run_id differs from the manifest's)")
    counts = {int(k): int(v) for k, v in traces.groupby("env_steps").size().items()}
    if counts != expected:
        raise ResultsSchemaError(
            f"{path}: {sum(counts.values())} rows at env_steps {sorted(counts)}, the manifest recorded "
            f"{sum(expected.values())} at {sorted(expected)}"
        )


RUN_COLUMNS = (
    "run_id",
    "method",
    "suite",
    "seed",
    "profile",
    "precision",
    "commit",
    "dirty",
    "device",
    "threads",
    "host",
    "torch",
    "env_steps",
    "wall_s",
    "train_s",
    "sittings",
    "train_env_steps_per_s",
)
"""the columns of the run provenance table (:func:`run_provenance`)"""


def run_provenance(manifest: dict[str, Any]) -> dict[str, Any]:
    """One row describing where and how a run was made (for flagging tables that mix them).

    Times are totals over the run's sittings (a run interrupted and resumed has several): ``wall_s`` is the
    wall time of every sitting (each resumed sitting adds to what the manifest carried; a sitting killed
    without writing its manifest counts up to its last evaluation), ``train_s`` the meta-training time of
    the training the final agent comes from (restored from the resume point, so training after the last
    resume point of an interrupted sitting, which was discarded and done again, counts once), and
    ``sittings`` is 1 plus the number of resumptions.
    """
    spec = manifest.get("spec", {})
    git = manifest.get("git") or {}
    runtime = manifest.get("runtime") or {}
    return {
        "run_id": manifest.get("run_id"),
        "method": spec.get("method"),
        "suite": spec.get("suite"),
        "seed": spec.get("seed"),
        "profile": spec.get("profile"),
        "precision": spec.get("precision", "fp32"),  # only a precision other than fp32 is in the spec
        "commit": git.get("commit"),
        "dirty": git.get("dirty"),
        "device": runtime.get("device", "cpu"),
        "threads": runtime.get("threads", manifest.get("torch_threads")),
        "host": manifest.get("host"),
        "torch": (manifest.get("packages") or {}).get("torch"),
        "env_steps": manifest.get("env_steps"),
        "wall_s": manifest.get("wall_s"),
        "train_s": manifest.get("train_s"),
        "sittings": 1 + len(manifest.get("resumed") or []),
        "train_env_steps_per_s": manifest.get("train_env_steps_per_s"),
    }


def mixed_provenance(runs: pd.DataFrame) -> list[str]:
    """What differs between runs that should not (code version, uncommitted changes, device, threads,
    precision: tables written before the precision was recorded hold fp32 runs)."""
    notes = []
    runs = runs.assign(precision=runs["precision"].fillna("fp32") if "precision" in runs else "fp32")
    for column, what in (
        ("commit", "code versions"),
        ("device", "devices"),
        ("threads", "thread counts"),
        ("precision", "precisions"),
    ):
        values = sorted({str(v) for v in runs[column].dropna()})
        if len(values) > 1:
            notes.append(f"mixes {what}: {', '.join(values)}")
    if runs["dirty"].fillna(False).astype(bool).any():
        notes.append("includes runs made with uncommitted changes")
    return notes


def _typed_runs(runs: pd.DataFrame) -> pd.DataFrame:
    typed = runs.astype({"dirty": "boolean", "seed": "Int64", "threads": "Int64"})
    if "sittings" in typed:  # tables merged before it existed lack it
        typed["sittings"] = typed["sittings"].astype("Int64")
    return typed


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
